/**
 * What the rest of ticks sees of Kafka. Only runtime/kafka/ imports kafkajs (with its plug-ins:
 * the assigner, the partitioner); everything else works with these small types, so the client can
 * be swapped without touching processors.
 */
export interface InboundRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Record timestamp (ms): the event time the producer stamped. */
  timestamp: number;
}

export interface OutboundRecord {
  topic: string;
  key: string | Buffer | null;
  value: Buffer | null;
  headers?: Record<string, string>;
  /** Record timestamp (ms); the time of the send when absent. */
  timestamp?: number;
  /** An explicit partition; by default the key's (murmur2, as the Java client). */
  partition?: number;
}

export interface InboundBatch {
  topic: string;
  partition: number;
  records: InboundRecord[];
  highWatermark: string;
  heartbeat(): Promise<void>;
  /** True once a rebalance took this partition away: apply nothing more, commit nothing. */
  isStale(): boolean;
  /** Commits `lastOffset + 1` of this batch's partition (the consumer's position moves on anyway). */
  commit(lastOffset: string): Promise<void>;
  /**
   * Stops fetching this topic-partition until the returned function is called (a consumer that
   * buffers records holds a partition back while it has enough of it).
   */
  pause?(): () => void;
}

/** A position to commit: the next offset to read of a topic-partition. */
export interface CommitPosition {
  topic: string;
  partition: number;
  nextOffset: string;
}

export interface GroupConsumerOptions {
  groupId: string;
  topics: string[];
  /** Partition p of every topic to one member (Kafka Streams' co-partitioning). */
  coPartitioned: boolean;
  fromBeginning: boolean;
  onBatch(batch: InboundBatch): Promise<void>;
  onAssignment?(assignment: Record<string, number[]>): void;
  /** The group coordinator acknowledged a heartbeat: the group still counts this member. */
  onHeartbeat?(): void;
  sessionTimeoutMs?: number;
  maxBytesPerPartition?: number;
  /** Batches of different partitions handed to onBatch at the same time (default 1). */
  partitionsConsumedConcurrently?: number;
  /**
   * For a consumer that commits nothing (a group of its own): keep its place across rejoins.
   * kafkajs, joining its group again (the coordinator dropped the member: a heartbeat late
   * under load, a coordinator moved, a restart after an outage), starts each partition from
   * the committed offset, and without one from the end of the topic (fromBeginning false):
   * whatever came meanwhile was skipped. With keepsPlace each partition resumes where this
   * consumer was — after the last batch handed to onBatch, or, before any, at the end of the
   * topic as it was when start() was called (so nothing published once start() was called is
   * missed, even before the first fetch).
   */
  keepsPlace?: boolean;
}

/**
 * Where a group consumer is: starting (until it first joins its group), running, restarting
 * (kafkajs crashed it on an error it retries: it joins again), crashed (an error it does not
 * retry: it consumes nothing more until the process restarts), stopped.
 */
export interface ConsumerStatus {
  state: 'starting' | 'running' | 'restarting' | 'crashed' | 'stopped';
  /** The crash's error. */
  error?: string;
}

export interface GroupConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Where the consumer is (for liveness and readiness). */
  status(): ConsumerStatus;
  /** Commits several positions in one request (consumers that commit outside onBatch). */
  commit(positions: CommitPosition[]): Promise<void>;
  /** Fetches a topic-partition again from `position.nextOffset` (its batches in flight go stale). */
  seek(position: CommitPosition): void;
}

export interface RecordProducer {
  send(records: OutboundRecord[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * What a stream runtime needs of Kafka: a producer and group consumers. The admin (topic
 * creation, offsets, groups) is not part of it; KafkaClient implements this and more.
 */
export interface StreamClient {
  /** A connected producer. */
  producer(): Promise<RecordProducer>;
  /** A consumer of the group, not yet started. */
  groupConsumer(options: GroupConsumerOptions): GroupConsumer;
}
