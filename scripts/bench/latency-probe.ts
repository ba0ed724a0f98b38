import type { AvroCodec } from '../../schemas/avro-codec';
import { TypeName, type ReceiptUpdate } from '../../schemas/types';
import type { KafkaClient } from '../../runtime/kafka/kafka-client';
import type { GroupConsumer } from '../../runtime/kafka/types';
import { followTopic } from './follow-topic';

export type LatencyKind = 'direct' | 'group_summary' | 'unread_sync';

/**
 * Reads `receipt_updates` as a push gateway would and times each update from the event that
 * caused it (`source_event_at`: the record timestamp of the input event, stamped by its
 * producer) to the moment ticks produced it (the update record's own timestamp, CreateTime,
 * stamped by ticks' producer when it sent the batch). `emitted_at` is not used as the end: it is
 * the start of the batch that made the update, before the Redis work, so it would flatter.
 */
export class LatencyProbe {
  /** Milliseconds from event to produced update, per kind. */
  readonly produced: Record<LatencyKind, number[]> = {
    direct: [],
    group_summary: [],
    unread_sync: [],
  };
  /** Milliseconds from event to this reader's receipt of the update (adds the fetch wait). */
  readonly received: Record<LatencyKind, number[]> = {
    direct: [],
    group_summary: [],
    unread_sync: [],
  };
  /** When each direct update was produced (ms since the epoch), in the order of produced.direct. */
  readonly directProducedAt: number[] = [];
  ignored = 0;
  private consumer: GroupConsumer | undefined;
  private since = Number.POSITIVE_INFINITY;
  private until = Number.POSITIVE_INFINITY;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly codec: AvroCodec,
    private readonly topic: string,
  ) {}

  /** Joins a fresh group at the end of the topic; resolves once it is assigned and positioned. */
  async start(groupId: string): Promise<void> {
    this.consumer = await followTopic(this.kafka, this.topic, groupId, async (r, receivedAt) => {
      if (r.value === null) return;
      const { value } = await this.codec.decodeAs('receiptUpdates', r.value);
      this.record(value, r.timestamp, receivedAt);
    });
  }

  /** Counts only updates caused by events stamped in [since, until). */
  window(since: number, until = Number.POSITIVE_INFINITY): void {
    this.since = since;
    this.until = until;
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }

  private record(u: ReceiptUpdate, producedAt: number, receivedAt: number): void {
    if (u.source_event_at < this.since || u.source_event_at >= this.until) {
      this.ignored++;
      return;
    }
    const p = u.payload;
    const kind: LatencyKind =
      TypeName.MessageStatusUpdate in p
        ? 'direct'
        : TypeName.GroupSenderSummary in p || TypeName.GroupSummary in p
          ? 'group_summary'
          : 'unread_sync';
    this.produced[kind].push(producedAt - u.source_event_at);
    if (kind === 'direct') this.directProducedAt.push(producedAt);
    this.received[kind].push(receivedAt - u.source_event_at);
  }
}

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { count: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return {
    count: sorted.length,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: sorted[sorted.length - 1]!,
  };
}

/**
 * Latencies split by when they were produced within the window cycle: `phaseMs` after each
 * window end (k × windowMs + graceMs), in bins of `binMs`. Group windows of every partition
 * close together at a window end; updates produced right after it that take longer than the
 * rest are delayed by the closes, whatever the machine's speed.
 */
export function byWindowPhase(
  latencies: number[],
  producedAt: number[],
  windowMs: number,
  graceMs: number,
  binMs: number,
): Array<{ phaseMs: number } & Percentiles> {
  const bins: number[][] = Array.from({ length: Math.ceil(windowMs / binMs) }, () => []);
  latencies.forEach((latency, i) => {
    const phase = (((producedAt[i]! - graceMs) % windowMs) + windowMs) % windowMs;
    bins[Math.floor(phase / binMs)]!.push(latency);
  });
  return bins.map((values, i) => ({ phaseMs: i * binMs, ...percentiles(values) }));
}

/** Up to `points` (latency, cumulative share) pairs for a CDF chart. */
export function cdf(values: number[], points = 200): Array<[number, number]> {
  if (values.length === 0) return [];
  const sorted = Float64Array.from(values).sort();
  const out: Array<[number, number]> = [];
  for (let i = 1; i <= points; i++) {
    const idx = Math.min(sorted.length - 1, Math.ceil((i / points) * sorted.length) - 1);
    out.push([sorted[idx]!, (idx + 1) / sorted.length]);
  }
  return out;
}
