import type { CommitPosition, ConsumerStatus, InboundBatch, OutboundRecord } from '../kafka/types';

/**
 * What the stream runtime needs of Kafka, and nothing more: a producer and a group consumer.
 * The Kafka boundary (KafkaClient) satisfies it as it is; the runtime's tests pass fakes.
 */
export interface StreamKafka {
  producer(): Promise<StreamProducer>;
  groupConsumer(options: StreamConsumerOptions): StreamConsumer;
}

export interface StreamProducer {
  /** Resolves once every record is acknowledged (acks=all); rejects if any was not. */
  send(records: OutboundRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface StreamConsumerOptions {
  groupId: string;
  topics: string[];
  /** Partition p of every topic to one member (Kafka Streams' co-partitioning). */
  coPartitioned: boolean;
  fromBeginning: boolean;
  sessionTimeoutMs?: number;
  /** Batches of different partitions handed to onBatch at the same time. */
  partitionsConsumedConcurrently?: number;
  /** Most bytes one fetch brings of one partition (Kafka's max.partition.fetch.bytes). */
  maxBytesPerPartition?: number;
  /** A fetched batch; the consumer fetches on once the promise resolves. */
  onBatch(batch: InboundBatch): Promise<void>;
  /** The member's partitions, by topic, after each rebalance (before their first batch). */
  onAssignment(assignment: Record<string, number[]>): void;
  /** The group coordinator acknowledged a heartbeat (kafkajs' HEARTBEAT event). */
  onHeartbeat?(): void;
}

export interface StreamConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Where the consumer is (liveness and readiness); fakes may leave it out. */
  status?(): ConsumerStatus;
  /** Commits several positions in one request. */
  commit(positions: CommitPosition[]): Promise<void>;
  /** Fetches a topic-partition again from `position.nextOffset` (its batches in flight go stale). */
  seek(position: CommitPosition): void;
}
