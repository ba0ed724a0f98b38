import type { KafkaClient } from '../../runtime/kafka/kafka-client';
import { sleep } from './pipeline-process';

export interface DrainSample {
  /** Milliseconds since the meter started. */
  t: number;
  committed: number;
}

export interface DrainResult {
  total: number;
  samples: DrainSample[];
  /** Events committed between the first and the last commit seen, over that time. */
  eventsPerSecond: number;
  /** First sample with a commit, first sample with everything committed (ms since start). */
  firstCommitAt: number;
  lastCommitAt: number;
  /** Events committed between those two samples (what the rate counts). */
  measuredEvents: number;
  timedOut: boolean;
}

/**
 * Follows a consumer group's committed position over the input topics (group lag, polled from
 * one admin connection) until it has committed `total` records. The rate is measured between the
 * first poll that sees a commit and the one that sees the last: the batches committed before the
 * first poll are left out of both the count and the time.
 */
export async function meterDrain(
  kafka: KafkaClient,
  groupId: string,
  topics: string[],
  total: number,
  options: {
    intervalMs?: number;
    timeoutMs?: number;
    onSample?(s: DrainSample): void | Promise<void>;
  } = {},
): Promise<DrainResult> {
  const intervalMs = options.intervalMs ?? 250;
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const started = Date.now();
  const samples: DrainSample[] = [];
  let timedOut = false;
  await kafka.withAdmin(async (admin) => {
    for (;;) {
      const lag = await admin.groupLag(groupId, topics);
      const sample = { t: Date.now() - started, committed: Math.max(0, total - lag) };
      samples.push(sample);
      await options.onSample?.(sample);
      if (sample.committed >= total) return;
      if (sample.t > timeoutMs) {
        timedOut = true;
        return;
      }
      await sleep(intervalMs);
    }
  });
  const last = samples[samples.length - 1]!;
  let first = samples.find((s) => s.committed > 0) ?? samples[0]!;
  // A drain shorter than one poll: fall back to the time since the meter started (a floor).
  if (first === last) first = { t: 0, committed: 0 };
  const seconds = (last.t - first.t) / 1000;
  return {
    total,
    samples,
    eventsPerSecond: seconds > 0 ? (last.committed - first.committed) / seconds : NaN,
    firstCommitAt: first.t,
    lastCommitAt: last.t,
    measuredEvents: last.committed - first.committed,
    timedOut,
  };
}
