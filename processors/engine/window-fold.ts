import type { ConversationState } from '../../stores/state/conversation-state';
import type { ConversationWrites } from '../../stores/state/conversation-writes';
import { formatNumber, luaNumber, windowRangeField } from '../../stores/state/stored-values';

/** A seq range a receipt changed, (lo, hi]: what the group window will summarise. */
export type SeqRange = [lo: number, hi: number];

/**
 * A run's group receipts folded into the open window (`win`): per range end 'r:<hi>' the lowest
 * start seen, the highest version ('ver', what clear-window compares), the earliest source time
 * ('src') and how many receipts it absorbed. Folded over the run first, then into the window
 * once, as the script does.
 */
export class WindowFold {
  /** hi → lowest lo, in order of first appearance. */
  private readonly lowest = new Map<number, number>();
  private absorbed = 0;
  private version = 0;
  private sourceAt: number | null = null;

  /** One receipt's ranges; a receipt that changed nothing is not absorbed. */
  add(ranges: readonly SeqRange[], version: number, sourceAt: number): void {
    for (const [lo, hi] of ranges) {
      const known = this.lowest.get(hi);
      if (known === undefined || lo < known) this.lowest.set(hi, lo);
    }
    if (ranges.length === 0) return;
    this.absorbed++;
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
    set('ver', formatNumber(Math.max(luaNumber(ver) ?? 0, this.version)));
    set('src', formatNumber(Math.min(src, this.sourceAt)));
    for (const [hi, lo] of this.lowest) {
      const field = windowRangeField(hi);
      const known = luaNumber(win.get(field));
      if (known === null || known > lo) set(field, formatNumber(lo));
    }
    // HINCRBY in the script; the count is known here, so the write is idempotent.
    set('absorbed', String(absorbed));
    // A new window gets its TTL (a safety net: windows are deleted when they close).
    if (ver === undefined) writes.win.expire(ttlSeconds);
    return true;
  }
}
