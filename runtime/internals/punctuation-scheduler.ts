import type { Punctuator } from '../api/processor';

/**
 * Wakes punctuators on wall-clock time: every `intervalMs` and, for a punctuator that says when
 * its work is next due (`nextDueAt`), right after that time whenever it falls before the next
 * interval wake-up. What a wake-up does is up to `wake`.
 */
export class PunctuationScheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Per punctuator: the due time its one precise wake-up is set for. */
  private readonly precise = new Map<Punctuator, number>();
  private stopped = false;

  constructor(private readonly wake: (punctuator: Punctuator) => void) {}

  start(punctuators: readonly Punctuator[]): void {
    this.stopped = false;
    for (const punctuator of punctuators) {
      const tick = () => {
        this.wake(punctuator);
        this.schedulePrecise(punctuator);
      };
      this.timers.add(setInterval(tick, punctuator.intervalMs));
      this.schedulePrecise(punctuator);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.precise.clear();
  }

  /** A one-shot wake-up at the punctuator's next due time, when the interval would be late. */
  private schedulePrecise(punctuator: Punctuator): void {
    const due = punctuator.nextDueAt?.();
    if (this.stopped || due === undefined) return;
    const now = Date.now();
    if (due >= now + punctuator.intervalMs) return; // an interval wake-up comes first
    const set = this.precise.get(punctuator);
    if (set !== undefined && set <= due) return; // one as early is already set
    this.precise.set(punctuator, due);
    // 1 ms late: the due time itself must have passed for Date.now() >= due.
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        if (this.precise.get(punctuator) === due) this.precise.delete(punctuator);
        this.wake(punctuator);
      },
      Math.max(0, due - now + 1),
    );
    this.timers.add(timer);
  }
}
