import { logLevel as KafkaLogLevel, type logCreator } from 'kafkajs';
import type { Logger } from 'pino';

/** Broker answers kafkajs retries on its own (their wording in kafkajs' error table). */
const TRANSIENT_BROKER_ERRORS =
  /coordinator is loading|coordinator is not available|group is rebalancing|not the leader|no leader|leader is not available|not the correct coordinator/i;

/**
 * kafkajs warnings about choices ticks made on purpose: the producer's bounded retries (a send
 * has a deadline, and a failed send gets a fresh producer, see producer.ts).
 */
const DELIBERATE_WARNINGS = /^Limiting retries for the idempotent producer/;

/**
 * The pino level for a kafkajs log entry. kafkajs logs a harmless warning for every rebalance
 * (kept at debug) and logs broker answers it retries itself — a coordinator still loading after
 * a start, a rebalance — as errors: those are warnings here, so an error in ticks' log means
 * something failed.
 */
export function pinoLevelOf(
  kafkaLevel: number,
  error: unknown,
  message = '',
): 'error' | 'warn' | 'debug' {
  if (DELIBERATE_WARNINGS.test(message)) return 'debug';
  const transient = typeof error === 'string' && TRANSIENT_BROKER_ERRORS.test(error);
  if (kafkaLevel <= KafkaLogLevel.ERROR && !transient) return 'error';
  return kafkaLevel <= KafkaLogLevel.WARN ? 'warn' : 'debug';
}

/** kafkajs' log entries into ticks' pino log (dropped when there is no logger). */
export function pinoLogCreator(log: Logger | undefined): logCreator {
  return () => (entry) => {
    if (!log) return;
    const { message, ...extra } = entry.log;
    const level = pinoLevelOf(entry.level, extra.error, message);
    log[level]({ kafka: entry.namespace, ...extra }, message);
  };
}
