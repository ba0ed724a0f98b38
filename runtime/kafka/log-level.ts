import { logLevel as KafkaLogLevel, type logCreator } from 'kafkajs';
import type { Logger } from 'pino';

/** Broker answers kafkajs retries on its own (their wording in kafkajs' error table). */
const TRANSIENT_BROKER_ERRORS =
  /coordinator is loading|coordinator is not available|group is rebalancing|not the leader|no leader|leader is not available|not the correct coordinator/i;

/**
 * The pino level for a kafkajs log entry. kafkajs logs a harmless warning for every rebalance
 * (kept at debug) and logs broker answers it retries itself — a coordinator still loading after
 * a start, a rebalance — as errors: those are warnings here, so an error in ticks' log means
 * something failed.
 */
export function pinoLevelOf(kafkaLevel: number, error: unknown): 'error' | 'warn' | 'debug' {
  const transient = typeof error === 'string' && TRANSIENT_BROKER_ERRORS.test(error);
  if (kafkaLevel <= KafkaLogLevel.ERROR && !transient) return 'error';
  return kafkaLevel <= KafkaLogLevel.WARN ? 'warn' : 'debug';
}

/** kafkajs' log entries into ticks' pino log (dropped when there is no logger). */
export function pinoLogCreator(log: Logger | undefined): logCreator {
  return () => (entry) => {
    if (!log) return;
    const { message, ...extra } = entry.log;
    const level = pinoLevelOf(entry.level, extra.error);
    log[level]({ kafka: entry.namespace, ...extra }, message);
  };
}
