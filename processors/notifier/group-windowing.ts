import type { ProcessorContext } from '../../runtime/api';
import type { PartitionIndex } from '../../stores/redis/partition-index';
import type { PipelineMetrics } from '../../runtime/metrics';
import type { StateSteps } from '../state-steps';
import type { UpdateEmitter } from './update-emitter';

/**
 * What both sides of a group window share: the receipts that open or extend it (ReceiptApplier)
 * and the punctuator that closes it (WindowCloser).
 */
export interface GroupWindowing {
  /** The partition-owned conversation states (a window is part of its conversation's). */
  steps: StateSteps;
  /** Per partition, the conversations with an open window, at the time it closes. */
  windows: PartitionIndex;
  emitter: UpdateEmitter;
  metrics: PipelineMetrics;
  sharesReads(userId: string): boolean;
  windowMs: number;
  windowGraceMs: number;
}

/**
 * Into how many phases the conversations' windows are spread, at most: a conversation's 2 s
 * windows start `windowPhaseOf` after the epoch's, so a tenth of the groups' windows end every
 * 200 ms instead of all of them together. Closing every window of every partition at one instant
 * was a burst of work (summaries, their produce, the garbage they leave) that held up the direct
 * updates and the summaries queued behind it by 100–500 ms every two seconds (BENCHMARKS.md,
 * session 28). Fewer phases when windowMs is not a multiple of 10 (whole milliseconds).
 */
export const MAX_WINDOW_PHASES = 10;

/** The phases windows of `windowMs` are spread over: the most up to MAX_WINDOW_PHASES dividing it. */
export function windowPhases(windowMs: number): number {
  let phases = MAX_WINDOW_PHASES;
  while (windowMs % phases !== 0) phases--;
  return phases;
}

/** How often some conversations' windows end: every windowMs ÷ windowPhases. */
export function windowEndEveryMs(windowMs: number): number {
  return windowMs / windowPhases(windowMs);
}

/**
 * Where a conversation's windows start within the epoch's windowMs grid (ms): a hash of its id
 * (FNV-1a: the same in every process and build), one of windowPhases(windowMs) phases.
 */
export function windowPhaseOf(conversationId: string, windowMs: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < conversationId.length; i++) {
    hash ^= conversationId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  const phases = windowPhases(windowMs);
  return ((hash >>> 0) % phases) * (windowMs / phases);
}

/**
 * When the window of a record stamped `timestamp` closes: windows hold event time (what
 * happened in those 2 s, however fast a backlog is read), and close by the partition's time
 * (ProcessorContext.streamTime, WindowCloser). A record stamped ahead of the clock counts as now.
 */
export function windowCloseOf(
  conversationId: string,
  timestamp: number,
  ctx: Pick<ProcessorContext, 'now'>,
  windowing: Pick<GroupWindowing, 'windowMs' | 'windowGraceMs'>,
): number {
  return windowCloseAfter(conversationId, Math.min(timestamp, ctx.now), windowing);
}

/**
 * When the conversation's window open at `now` closes, plus the grace: tumbling windows of
 * windowMs, shifted from the epoch's by the conversation's phase (windowPhaseOf).
 */
export function windowCloseAfter(
  conversationId: string,
  now: number,
  { windowMs, windowGraceMs }: Pick<GroupWindowing, 'windowMs' | 'windowGraceMs'>,
): number {
  const phase = windowPhaseOf(conversationId, windowMs);
  return (Math.floor((now - phase) / windowMs) + 1) * windowMs + phase + windowGraceMs;
}
