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
 * When a window opened at `now` closes: a conversation's windows tumble from its first receipt
 * (DESIGN.md: windows per sender and conversation), not from the epoch — an epoch boundary
 * would split a burst of reads into two pushes per sender at whatever phase it fell.
 */
export function windowCloseAfter(
  now: number,
  { windowMs, windowGraceMs }: Pick<GroupWindowing, 'windowMs' | 'windowGraceMs'>,
): number {
  return now + windowMs + windowGraceMs;
}
