import type { Punctuator } from '../api/processor';

/**
 * Wakes punctuators on wall-clock time: every `intervalMs` and, for an aligned punctuator, right
 * after each k × everyMs + offsetMs (window ends). What a wake-up does is up to `wake`.
 */
export class PunctuationScheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly wake: (punctuator: Punctuator) => void) {}

  start(punctuators: readonly Punctuator[]): void {
    this.stopped = false;
    for (const punctuator of punctuators) {
      this.timers.add(setInterval(() => this.wake(punctuator), punctuator.intervalMs));
      if (punctuator.aligned) this.scheduleAligned(punctuator, punctuator.aligned);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private scheduleAligned(
    punctuator: Punctuator,
    aligned: { everyMs: number; offsetMs: number },
  ): void {
    if (this.stopped) return;
    const { everyMs, offsetMs } = aligned;
    const now = Date.now();
    const next = Math.floor((now - offsetMs) / everyMs + 1) * everyMs + offsetMs;
    // 1 ms late: the due time itself must have passed for Date.now() >= due.
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        this.wake(punctuator);
        this.scheduleAligned(punctuator, aligned);
      },
      next - now + 1,
    );
    this.timers.add(timer);
  }
}
