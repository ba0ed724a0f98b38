import type { ToldMark } from '../../stores/state/told-marks';
import type { WriteSet } from '../../stores/state/write-set';

/**
 * What the engine's functions share within one processing step: where the Redis writes go, and
 * the two arguments every script took from outside the conversation's state.
 */
export interface EngineStep {
  /** The step's write-behind: flushed once, after the step's events are applied. */
  writes: WriteSet;
  /** Hot-state TTL (s): the scripts' ARGV[1]. */
  ttlSeconds: number;
  /**
   * Wall clock (ms): when the conversation's expiry was refreshed (refreshCore; the scripts
   * read meta's PTTL instead); the engine takes the time from its caller.
   */
  now: number;
  /** Messages a conversation keeps in its hot index (older ones are trimmed: trimMessages). */
  maxIndexedMessages: number;
  /** Told when a 'told up to' mark moves (the write-behind remembers it once the step's updates are out). */
  told?(mark: ToldMark): void;
}
