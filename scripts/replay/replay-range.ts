import { KafkaClient, type KafkaClientOptions } from '../../runtime/kafka/kafka-client';
import type { TopicAdmin } from '../../runtime/kafka/topic-admin';
import type { GroupConsumer, GroupConsumerOptions, InboundBatch } from '../../runtime/kafka/types';

/** Records [start, end) of one partition to replay. */
export interface PartitionRange {
  topic: string;
  partition: number;
  start: number;
  end: number;
}

export interface RangeSpec {
  /** Record timestamps (epoch ms): from inclusive, to exclusive. */
  fromTime?: number;
  toTime?: number;
  /** Offsets, in every partition: from inclusive, to exclusive. */
  fromOffset?: number;
  toOffset?: number;
}

/** Where each bound lands in one partition: time bounds are already offsets here. */
export interface PartitionBounds {
  low: number;
  high: number;
  fromTime?: number;
  toTime?: number;
}

/**
 * The range of one partition: the spec's bounds, kept inside what the log still holds
 * ([low, high)); a range that starts after it ends is empty.
 */
export function clampRange(
  bounds: PartitionBounds,
  spec: RangeSpec,
): { start: number; end: number } {
  const clamp = (n: number) => Math.min(Math.max(n, bounds.low), bounds.high);
  const start = clamp(bounds.fromTime ?? spec.fromOffset ?? bounds.low);
  const end = clamp(bounds.toTime ?? spec.toOffset ?? bounds.high);
  return { start, end: Math.max(start, end) };
}

/** Resolves the spec against the topics' logs (time bounds through Kafka's offsets-for-time). */
export async function resolveRanges(
  admin: TopicAdmin,
  topics: string[],
  spec: RangeSpec,
): Promise<PartitionRange[]> {
  const ranges: PartitionRange[] = [];
  for (const topic of topics) {
    const [lows, highs] = await Promise.all([admin.startOffsets(topic), admin.endOffsets(topic)]);
    const fromTimes =
      spec.fromTime === undefined ? undefined : await admin.offsetsForTime(topic, spec.fromTime);
    const toTimes =
      spec.toTime === undefined ? undefined : await admin.offsetsForTime(topic, spec.toTime);
    for (const [partition, high] of [...highs].sort(([a], [b]) => a - b)) {
      const bounds: PartitionBounds = {
        low: Number(lows.get(partition) ?? 0),
        high: Number(high),
        fromTime: fromTimes ? Number(fromTimes.get(partition)) : undefined,
        toTime: toTimes ? Number(toTimes.get(partition)) : undefined,
      };
      ranges.push({ topic, partition, ...clampRange(bounds, spec) });
    }
  }
  return ranges;
}

/**
 * The Kafka boundary of a replay: the consumer of `groupId` sees only the records inside the
 * ranges (those at or after a partition's end are dropped before the processors), so the replay
 * stops exactly at the range end. Other consumers (the settings table) are untouched.
 */
export class BoundedKafkaClient extends KafkaClient {
  private readonly ends = new Map<string, number>();

  constructor(
    options: KafkaClientOptions,
    private readonly groupId: string,
    ranges: readonly PartitionRange[],
  ) {
    super(options);
    for (const r of ranges) this.ends.set(`${r.topic}/${r.partition}`, r.end);
  }

  override groupConsumer(options: GroupConsumerOptions): GroupConsumer {
    if (options.groupId !== this.groupId) return super.groupConsumer(options);
    return super.groupConsumer({
      ...options,
      onBatch: (batch) => options.onBatch(this.bounded(batch)),
    });
  }

  private bounded(batch: InboundBatch): InboundBatch {
    const end = this.ends.get(`${batch.topic}/${batch.partition}`) ?? 0;
    const records = batch.records.filter((r) => Number(r.offset) < end);
    // The range end is this consumer's end of the partition: the stream runtime, seeing it
    // caught up there, does not wait for conversation events beyond the range.
    const highWatermark = String(Math.min(end, Number(batch.highWatermark)));
    return records.length === batch.records.length && highWatermark === batch.highWatermark
      ? batch
      : { ...batch, records, highWatermark };
  }
}
