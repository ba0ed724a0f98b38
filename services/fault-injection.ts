import type { Logger } from 'pino';
import type { TicksConfig } from '../config/config';
import type { DeliveryStage } from '../runtime/internals/stream-runtime';

/**
 * TICKS_FAULT_KILL_AT, for crash tests only: the runtime hook (StreamRuntimeOptions
 * .onDeliveryStage) that kills this process with SIGKILL — no shutdown, no flush, no commit, as
 * a crash — when the n-th step delivery (counted over all partitions, from the start) reaches
 * the stage: `produced`, its outputs acknowledged and its state not yet written to Redis;
 * `flushed`, its state written and its offsets not yet committed. None when the knob is unset.
 */
export function deliveryFault(
  point: TicksConfig['faultKillAt'],
  logger: Logger,
): ((stage: DeliveryStage, partition: number) => void) | undefined {
  if (!point) return undefined;
  logger.warn(
    { faultKillAt: point },
    'TICKS_FAULT_KILL_AT is set: this process will SIGKILL itself (crash tests only; unset it anywhere else)',
  );
  let reached = 0;
  return (stage, partition) => {
    if (stage !== point.stage || ++reached !== point.delivery) return;
    logger.warn(
      { stage, delivery: reached, partition },
      'TICKS_FAULT_KILL_AT: killing the process',
    );
    process.kill(process.pid, 'SIGKILL');
  };
}
