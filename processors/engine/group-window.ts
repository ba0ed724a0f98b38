import type { WindowContents } from '../../stores/redis/conversation-store';
import { StateNotLoadedError, type ConversationState } from '../../stores/state/conversation-state';
import { ConversationWrites } from '../../stores/state/conversation-writes';
import {
  luaNumber,
  parseWindowRangeField,
  parseWindowSenderField,
} from '../../stores/state/stored-values';
import type { WriteSet } from '../../stores/state/write-set';
import { SENDER_SCAN_LIMIT } from './window-fold';

interface Picked {
  id: string;
  seq: number;
  sender: string;
}

/**
 * The senders a window tells: those its receipts newly covered ('s:<sender>' fields). null for a
 * window an earlier build opened (no 'unwindowed' field, no sender fields): it tells every
 * sender whose messages it covers, as that build did.
 */
function toldSenders(window: ReadonlyMap<string, string>): Set<string> | null {
  if (!window.has('unwindowed')) return null;
  const told = new Set<string>();
  for (const field of window.keys()) {
    const sender = parseWindowSenderField(field);
    if (sender !== null) told.add(sender);
  }
  return told;
}

/**
 * The messages a closing window summarises, as collect-window-1.lua picks them: ranges by their
 * upper end, highest first, at most `scanLimit` messages scanned per range (newest first); every
 * message there of a sender the window tells, at most `maxPerSender` per sender. lo/hi span
 * the ranges. A told sender has a message among the newest scanned of some range, as long as
 * scanLimit is at least SENDER_SCAN_LIMIT: a range keeps its end and only its start moves down.
 */
function pickMessages(
  state: ConversationState,
  maxPerSender: number,
  scanLimit: number,
): { lo: number; hi: number; messages: Picked[] } {
  const ranges: Array<[lo: number, hi: number]> = [];
  for (const [field, value] of state.window) {
    const hi = parseWindowRangeField(field);
    if (hi !== null) ranges.push([luaNumber(value) ?? 0, hi]);
  }
  ranges.sort((a, b) => b[1] - a[1]);
  const told = toldSenders(state.window);

  const messages: Picked[] = [];
  const picked = new Set<string>();
  const perSender = new Map<string, number>();
  let lo: number | null = null;
  let hi = 0;
  for (const [from, to] of ranges) {
    lo = Math.min(lo ?? from, from);
    hi = Math.max(hi, to);
    for (const id of state.newest(to, from, scanLimit)) {
      const message = state.message(id);
      if (!message || picked.has(id) || (told && !told.has(message.sender))) continue;
      const count = perSender.get(message.sender) ?? 0;
      if (count >= maxPerSender) continue;
      perSender.set(message.sender, count + 1);
      picked.add(id);
      messages.push({ id, seq: message.seq, sender: message.sender });
    }
  }
  return { lo: lo ?? 0, hi, messages };
}

/** The delivered-by-id hashes collectWindow will read that are not in memory. */
export function windowDeliveredByNeeded(
  state: ConversationState,
  maxPerSender: number,
  scanLimit = SENDER_SCAN_LIMIT,
): string[] {
  if (state.window.size === 0) return [];
  return pickMessages(state, maxPerSender, scanLimit)
    .messages.map((m) => m.id)
    .filter((id) => !state.deliveredBy(id));
}

/**
 * collect-window-1.lua over memory: what a closing group window needs — the members'
 * watermarks and the messages to summarise, with who confirmed each by id, and the pushes the
 * direct-chat rule would have sent for its receipts (null for a window an earlier build opened).
 * null when no window is open. Counts are computed by the caller, which knows who shares reads.
 * Throws StateNotLoadedError when a picked message's delivered-by-id state is not loaded (see
 * windowDeliveredByNeeded). Members' and ids' order is unspecified, as SMEMBERS' and HKEYS'.
 */
export function collectWindow(
  state: ConversationState,
  maxPerSender: number,
  scanLimit = SENDER_SCAN_LIMIT,
): WindowContents | null {
  const win = state.window;
  if (win.size === 0) return null;
  const { lo, hi, messages } = pickMessages(state, maxPerSender, scanLimit);
  const missing = messages.map((m) => m.id).filter((id) => !state.deliveredBy(id));
  if (missing.length > 0) throw new StateNotLoadedError(state.conversationId, missing);

  const members = [...state.members];
  return {
    lo,
    hi,
    version: luaNumber(win.get('ver')) ?? 0,
    sourceAt: luaNumber(win.get('src')) ?? 0,
    absorbed: luaNumber(win.get('absorbed')) ?? 0,
    unwindowed: luaNumber(win.get('unwindowed')),
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
  new ConversationWrites(writes, state.prefix, state.oneKeyIndex).win.del();
  return true;
}
