import type { WindowContents } from '../../stores/redis/conversation-store';
import { StateNotLoadedError, type ConversationState } from '../../stores/state/conversation-state';
import { ConversationWrites } from '../../stores/state/conversation-writes';
import { luaNumber, parseWindowRangeField } from '../../stores/state/stored-values';
import type { WriteSet } from '../../stores/state/write-set';

interface Picked {
  id: string;
  seq: number;
  sender: string;
}

/**
 * The messages a closing window summarises, as collect-window-1.lua picks them: ranges by their
 * upper end, highest first; in each, every sender's newest message (older ones are implied:
 * counts only grow towards older messages, as watermarks are prefixes), at most `scanLimit`
 * messages scanned per range and `maxMessages` in all. lo/hi span the ranges visited.
 */
function pickMessages(
  state: ConversationState,
  maxMessages: number,
  scanLimit: number,
): { lo: number; hi: number; messages: Picked[] } {
  const ranges: Array<[lo: number, hi: number]> = [];
  for (const [field, value] of state.window) {
    const hi = parseWindowRangeField(field);
    if (hi !== null) ranges.push([luaNumber(value) ?? 0, hi]);
  }
  ranges.sort((a, b) => b[1] - a[1]);

  const messages: Picked[] = [];
  const picked = new Set<string>();
  let lo: number | null = null;
  let hi = 0;
  for (const [from, to] of ranges) {
    if (messages.length >= maxMessages) break;
    lo = Math.min(lo ?? from, from);
    hi = Math.max(hi, to);
    const seen = new Set<string>();
    for (const id of state.newest(to, from, scanLimit)) {
      const message = state.message(id);
      if (!message || seen.has(message.sender)) continue;
      seen.add(message.sender);
      if (!picked.has(id) && messages.length < maxMessages) {
        picked.add(id);
        messages.push({ id, seq: message.seq, sender: message.sender });
      }
    }
  }
  return { lo: lo ?? 0, hi, messages };
}

/** The delivered-by-id hashes collectWindow will read that are not in memory. */
export function windowDeliveredByNeeded(
  state: ConversationState,
  maxMessages: number,
  scanLimit = 256,
): string[] {
  if (state.window.size === 0) return [];
  return pickMessages(state, maxMessages, scanLimit)
    .messages.map((m) => m.id)
    .filter((id) => !state.deliveredBy(id));
}

/**
 * collect-window-1.lua over memory: what a closing group window needs — the members'
 * watermarks and the messages to summarise, with who confirmed each by id. null when no window
 * is open. Counts are computed by the caller, which knows who shares reads. Throws
 * StateNotLoadedError when a picked message's delivered-by-id state is not loaded (see
 * windowDeliveredByNeeded). Members' and ids' order is unspecified, as SMEMBERS' and HKEYS'.
 */
export function collectWindow(
  state: ConversationState,
  maxMessages: number,
  scanLimit = 256,
): WindowContents | null {
  const win = state.window;
  if (win.size === 0) return null;
  const { lo, hi, messages } = pickMessages(state, maxMessages, scanLimit);
  const missing = messages.map((m) => m.id).filter((id) => !state.deliveredBy(id));
  if (missing.length > 0) throw new StateNotLoadedError(state.conversationId, missing);

  const members = [...state.members];
  return {
    lo,
    hi,
    version: luaNumber(win.get('ver')) ?? 0,
    sourceAt: luaNumber(win.get('src')) ?? 0,
    absorbed: luaNumber(win.get('absorbed')) ?? 0,
    members,
    reads: new Map(members.map((m) => [m, state.read.get(m) ?? 0])),
    delivered: new Map(members.map((m) => [m, state.dlvd.get(m) ?? 0])),
    messages: messages.map((m) => ({
      ...m,
      deliveredByIds: [...state.deliveredBy(m.id)!.keys()],
    })),
  };
}

/**
 * clear-window-1.lua over memory: deletes the window once its summaries were produced, unless
 * receipts arrived since it was read (its version moved on: it stays open and is closed again).
 * The versions compare as the script compares them, as strings.
 */
export function clearWindow(state: ConversationState, version: number, writes: WriteSet): boolean {
  if (state.window.get('ver') !== String(version)) return false;
  state.deleteWindow();
  new ConversationWrites(writes, state.prefix).win.del();
  return true;
}
