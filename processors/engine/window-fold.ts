import type { ConversationState } from '../../stores/state/conversation-state';
import type { ConversationWrites } from '../../stores/state/conversation-writes';
import {
  formatNumber,
  luaNumber,
  windowRangeField,
  windowSenderField,
} from '../../stores/state/stored-values';

/** A seq range a receipt changed, (lo, hi]: what the group window will summarise. */
export type SeqRange = [lo: number, hi: number];

/** Most messages of one range looked at for their senders (the scripts' LIMIT). */
export const SENDER_SCAN_LIMIT = 256;

/**
 * The senders, other than the reader, of the messages in `ranges` (the newest
 * SENDER_SCAN_LIMIT of each): whom the direct-chat rule would tell about this receipt, one push
 * each. apply-receipts-1.lua counts the same way.
 */
export function sendersCovered(
  state: ConversationState,
  ranges: readonly SeqRange[],
  reader: string,
): Set<string> {
  const senders = new Set<string>();
  for (const [lo, hi] of ranges)
    for (const id of state.newest(hi, lo, SENDER_SCAN_LIMIT)) {
      const sender = state.message(id)?.sender;
      if (sender !== undefined && sender !== reader) senders.add(sender);
    }
  return senders;
}

/**
 * A run's group receipts folded into the open window (`win`): per range end 'r:<hi>' the lowest
 * start seen, the highest version ('ver', what clear-window compares), the earliest source time
 * ('src'), how many receipts it absorbed, the senders to tell ('s:<sender>') and how many
 * pushes the direct-chat rule would have sent for its receipts ('unwindowed': per receipt, one
 * to each sender it newly covers). Folded over the run first, then into the window once, as the
 * script does.
 */
export class WindowFold {
  /** hi → lowest lo, in order of first appearance. */
  private readonly lowest = new Map<number, number>();
  private readonly senders = new Set<string>();
  private absorbed = 0;
  private unwindowed = 0;
  private version = 0;
  private sourceAt: number | null = null;

  /**
   * One receipt's ranges and the senders it newly covers (sendersCovered of what the sender can
   * see changed); a receipt that changed nothing is not absorbed.
   */
  add(
    ranges: readonly SeqRange[],
    told: ReadonlySet<string>,
    version: number,
    sourceAt: number,
  ): void {
    for (const [lo, hi] of ranges) {
      const known = this.lowest.get(hi);
      if (known === undefined || lo < known) this.lowest.set(hi, lo);
    }
    if (ranges.length === 0) return;
    this.absorbed++;
    this.unwindowed += told.size;
    for (const sender of told) this.senders.add(sender);
    this.version = Math.max(this.version, version);
    this.sourceAt = Math.min(this.sourceAt ?? sourceAt, sourceAt);
  }

  /** Writes the fold into the window; true when a window is open afterwards. */
  apply(state: ConversationState, writes: ConversationWrites, ttlSeconds: number): boolean {
    if (this.absorbed === 0 || this.sourceAt === null) return state.window.size > 0;
    const win = state.window;
    const ver = win.get('ver');
    const set = (field: string, value: string) => {
      state.setWindowField(field, value);
      writes.win.set(field, value);
    };
    const src = luaNumber(win.get('src')) ?? this.sourceAt;
    const absorbed = (luaNumber(win.get('absorbed')) ?? 0) + this.absorbed;
    const unwindowed = (luaNumber(win.get('unwindowed')) ?? 0) + this.unwindowed;
    set('ver', formatNumber(Math.max(luaNumber(ver) ?? 0, this.version)));
    set('src', formatNumber(Math.min(src, this.sourceAt)));
    for (const [hi, lo] of this.lowest) {
      const field = windowRangeField(hi);
      const known = luaNumber(win.get(field));
      if (known === null || known > lo) set(field, formatNumber(lo));
    }
    for (const sender of this.senders) {
      const field = windowSenderField(sender);
      if (!win.has(field)) set(field, '1');
    }
    // HINCRBY in the script; the counts are known here, so the writes are idempotent.
    set('absorbed', String(absorbed));
    set('unwindowed', String(unwindowed));
    // A new window gets its TTL (a safety net: windows are deleted when they close).
    if (ver === undefined) writes.win.expire(ttlSeconds);
    return true;
  }
}
