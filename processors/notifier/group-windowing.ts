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
 * When the window of a record stamped `timestamp` closes: windows hold event time (what
 * happened in those 2 s, however fast a backlog is read), and close by the partition's time
 * (ProcessorContext.streamTime, WindowCloser). A record stamped ahead of the clock counts as now.
 */
export function windowCloseOf(
  timestamp: number,
  ctx: Pick<ProcessorContext, 'now'>,
  windowing: Pick<GroupWindowing, 'windowMs' | 'windowGraceMs'>,
): number {
  return windowCloseAfter(Math.min(timestamp, ctx.now), windowing);
}

/** When a window open at `now` closes: tumbling windows aligned to the epoch, plus the grace. */
export function windowCloseAfter(
  now: number,
  { windowMs, windowGraceMs }: Pick<GroupWindowing, 'windowMs' | 'windowGraceMs'>,
): number {
  return (Math.floor(now / windowMs) + 1) * windowMs + windowGraceMs;
}
