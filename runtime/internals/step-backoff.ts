/** How long a partition waits before trying a failed step again. */
export interface BackoffOptions {
  /** The wait after a first failure that may pass (a retriable error); doubles per failure. */
  initialMs: number;
  /** The longest wait, and the wait after an error that retrying cannot fix. */
  maxMs: number;
  /**
   * The share of each wait taken off at random (0 to 1), so partitions that failed together do
   * not all try again at the same moment.
   */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000, jitter: 0.2 };

/**
 * Whether trying again can help, as the error says (kafkajs' and ticks' errors carry a
 * `retriable` flag), else as its cause says. An error that says nothing — a TypeError, say: a
 * programming error — is taken as not retriable.
 */
export function isRetriable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const flag = (e as { retriable?: unknown }).retriable;
    if (typeof flag === 'boolean') return flag;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The consecutive failures of one partition's steps and the wait they earn: a retriable failure
 * waits `initialMs`, doubling with each consecutive failure up to `maxMs`; one that retrying
 * cannot fix waits `maxMs` at once. Either way the step is tried again — the cause may be fixed
 * meanwhile (a deploy, a repaired dependency) — but never at full speed. A success resets the
 * count.
 */
export class StepBackoff {
  private failures = 0;
  private readyAt = 0;
  private capped = false;
  private firstFailureAt: number | undefined;

  constructor(
    private readonly options: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  /** Failures since the last success. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** When the first of the failures since the last success happened (none: undefined). */
  get failingSince(): number | undefined {
    return this.firstFailureAt;
  }

  /** Whether the last failure earned the longest wait. */
  get atLongestWait(): boolean {
    return this.capped;
  }

  /** Counts a failure at `now`; returns how long to wait before the next attempt (ms). */
  failed(retriable: boolean, now: number): number {
    this.failures++;
    this.firstFailureAt ??= now;
    const { initialMs, maxMs, jitter } = this.options;
    const full = retriable ? Math.min(maxMs, initialMs * 2 ** (this.failures - 1)) : maxMs;
    this.capped = full >= maxMs;
    const wait = Math.round(full * (1 - jitter * this.random()));
    this.readyAt = now + wait;
    return wait;
  }

  /** A step went through: the next failure starts over at `initialMs`. */
  succeeded(): void {
    this.failures = 0;
    this.capped = false;
    this.firstFailureAt = undefined;
  }

  /** How long after `now` the next attempt may run (0: at once). */
  waitFrom(now: number): number {
    return Math.max(0, this.readyAt - now);
  }
}
