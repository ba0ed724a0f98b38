import {
  CompressionTypes,
  Kafka,
  logLevel as KafkaLogLevel,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type ITopicConfig,
  type Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import { CoPartitionAssigner } from './co-partition-assigner';
import { JavaCompatiblePartitioner } from './java-partitioner';
import { slicesOf } from '../slices';

/**
 * The only module that imports kafkajs (with its plug-ins: the assigner, the partitioner). The rest of ticks sees these small
 * types, so the client can be swapped without touching processors.
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
  sessionTimeoutMs?: number;
  maxBytesPerPartition?: number;
  /** Batches of different partitions handed to onBatch at the same time (default 1). */
  partitionsConsumedConcurrently?: number;
}

export interface GroupConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Commits several positions in one request (consumers that commit outside onBatch). */
  commit(positions: CommitPosition[]): Promise<void>;
  /** Fetches a topic-partition again from `position.nextOffset` (its batches in flight go stale). */
  seek(position: CommitPosition): void;
}

export interface RecordProducer {
  send(records: OutboundRecord[]): Promise<void>;
  close(): Promise<void>;
}

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

/** Kafka could not be reached or refused a call; `retriable` says whether trying again can help. */
export class KafkaUnavailableError extends Error {
  override readonly name = 'KafkaUnavailableError';
  constructor(
    readonly brokers: string[],
    override readonly cause: unknown,
    readonly retriable = true,
  ) {
    super(
      `Kafka not reachable at ${brokers.join(',')} — run \`npm run stack:up\` (or check TICKS_KAFKA_BROKERS): ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
    );
  }
}

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  logger?: Logger;
  /** How long connecting may take before giving up with KafkaUnavailableError. */
  connectTimeoutMs?: number;
}

export class KafkaClient {
  private readonly kafka: Kafka;

  constructor(private readonly options: KafkaClientOptions) {
    const log = options.logger;
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: options.connectTimeoutMs ?? 3000,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5000 },
      logLevel: KafkaLogLevel.WARN,
      logCreator: () => (entry) => {
        if (!log) return;
        const { message, ...extra } = entry.log;
        const level = pinoLevelOf(entry.level, extra.error);
        log[level]({ kafka: entry.namespace, ...extra }, message);
      },
    });
  }

  get brokers(): string[] {
    return this.options.brokers;
  }

  /** Runs `fn` with a connected admin client, turning connection failures into a clear error. */
  async withAdmin<T>(fn: (admin: TopicAdmin) => Promise<T>): Promise<T> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
    } catch (err) {
      throw new KafkaUnavailableError(this.options.brokers, err);
    }
    try {
      return await fn(new TopicAdmin(admin));
    } finally {
      await admin.disconnect();
    }
  }

  async producer(): Promise<RecordProducer> {
    const producer = this.newProducer();
    try {
      await producer.connect();
    } catch (err) {
      throw new KafkaUnavailableError(this.options.brokers, err);
    }
    return new KafkaRecordProducer(producer, () => this.newProducer());
  }

  private newProducer(): Producer {
    return this.kafka.producer({
      // Idempotent, so the retries below never duplicate; retried until Kafka answers rather
      // than dropping a record.
      idempotent: true,
      maxInFlightRequests: 5,
      allowAutoTopicCreation: false,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 5000 },
      // Murmur2 on the key, as the Java client: producers in any language agree on the partition
      // of a conversation, which co-partitioning relies on.
      createPartitioner: JavaCompatiblePartitioner,
    });
  }

  groupConsumer(options: GroupConsumerOptions): GroupConsumer {
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      partitionAssigners: options.coPartitioned ? [CoPartitionAssigner] : undefined,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: 3000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
    });
    return new KafkaGroupConsumer(consumer, options, this.options.brokers);
  }
}

/**
 * Bytes of records per produce request. Kafka refuses a partition's record batch above
 * message.max.bytes (1 MiB by default) with a non-retriable error, so a send of many records is
 * split into requests below that, whatever their partitions.
 */
const MAX_REQUEST_BYTES = 900 * 1024;
/** Per-record framing (offsets, lengths, timestamp deltas), a generous estimate. */
const RECORD_OVERHEAD_BYTES = 64;
/**
 * Records per produce request. kafkajs groups a request's records by partition with an array
 * copy per record (quadratic in records per partition): 20k records cost more to group than to
 * encode and send. Requests of 500 keep that negligible and cost one round trip each.
 */
const MAX_REQUEST_RECORDS = 500;

function sizeOf(r: OutboundRecord): number {
  let size = RECORD_OVERHEAD_BYTES + (r.value?.length ?? 0);
  size += typeof r.key === 'string' ? Buffer.byteLength(r.key) : (r.key?.length ?? 0);
  if (r.headers)
    for (const [k, v] of Object.entries(r.headers)) size += k.length + Buffer.byteLength(v) + 8;
  return size;
}

class KafkaRecordProducer implements RecordProducer {
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;

  constructor(
    first: Producer,
    private readonly create: () => Producer,
  ) {
    this.producer = first;
  }

  async send(records: OutboundRecord[]): Promise<void> {
    const requests = slicesOf(records, {
      maxItems: MAX_REQUEST_RECORDS,
      maxWeight: MAX_REQUEST_BYTES,
      weight: sizeOf,
    });
    for (const request of requests) await this.sendChunk(request);
  }

  async close(): Promise<void> {
    const producer = this.producer ?? (await this.connecting?.catch(() => undefined));
    this.producer = undefined;
    await producer?.disconnect();
  }

  private async sendChunk(records: OutboundRecord[]): Promise<void> {
    const producer = await this.current();
    const byTopic = new Map<string, OutboundRecord[]>();
    for (const r of records) {
      const list = byTopic.get(r.topic);
      if (list) list.push(r);
      else byTopic.set(r.topic, [r]);
    }
    try {
      await producer.sendBatch({
        acks: -1,
        compression: CompressionTypes.None,
        topicMessages: [...byTopic].map(([topic, list]) => ({
          topic,
          messages: list.map((r) => ({
            key: r.key,
            value: r.value,
            headers: r.headers,
            timestamp: r.timestamp === undefined ? undefined : String(r.timestamp),
            partition: r.partition,
          })),
        })),
      });
    } catch (err) {
      // kafkajs' idempotent producer has counted the failed records' sequence numbers although
      // the broker wrote nothing; every later send to those partitions would then fail with
      // OUT_OF_ORDER_SEQUENCE_NUMBER. The next send gets a fresh producer (a new producer id).
      if (this.producer === producer) this.producer = undefined;
      void producer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  private async current(): Promise<Producer> {
    if (this.producer) return this.producer;
    this.connecting ??= (async () => {
      const fresh = this.create();
      await fresh.connect();
      this.producer = fresh;
      return fresh;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }
}

class KafkaGroupConsumer implements GroupConsumer {
  private started = false;

  constructor(
    private readonly consumer: Consumer,
    private readonly options: GroupConsumerOptions,
    private readonly brokers: string[],
  ) {
    if (options.onAssignment) {
      const onAssignment = options.onAssignment;
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        onAssignment(event.payload.memberAssignment);
      });
    }
  }

  async start(): Promise<void> {
    try {
      await this.consumer.connect();
      await this.consumer.subscribe({
        topics: this.options.topics,
        fromBeginning: this.options.fromBeginning,
      });
    } catch (err) {
      throw new KafkaUnavailableError(this.brokers, err);
    }
    this.started = true;
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachBatch: async (payload: EachBatchPayload) => {
        const { batch } = payload;
        await this.options.onBatch({
          topic: batch.topic,
          partition: batch.partition,
          highWatermark: batch.highWatermark,
          records: batch.messages.map((m) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key ?? null,
            value: m.value ?? null,
            timestamp: Number(m.timestamp),
          })),
          heartbeat: payload.heartbeat,
          isStale: payload.isStale,
          pause: payload.pause,
          commit: async (lastOffset: string) => {
            await this.consumer.commitOffsets([
              {
                topic: batch.topic,
                partition: batch.partition,
                offset: (BigInt(lastOffset) + 1n).toString(),
              },
            ]);
          },
        });
        // The position moves on in memory whether or not the caller commits: a consumer that
        // never commits (a global table, a collector) must not be handed the same batch again.
        const last = batch.messages[batch.messages.length - 1];
        if (last) payload.resolveOffset(last.offset);
      },
    });
  }

  async commit(positions: CommitPosition[]): Promise<void> {
    if (positions.length === 0) return;
    await this.consumer.commitOffsets(
      positions.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.nextOffset })),
    );
  }

  seek(position: CommitPosition): void {
    this.consumer.seek({
      topic: position.topic,
      partition: position.partition,
      offset: position.nextOffset,
    });
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.consumer.disconnect();
  }
}

export interface TopicToCreate {
  name: string;
  partitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
}

/** The admin calls ticks needs, and nothing else. */
export class TopicAdmin {
  constructor(private readonly admin: Admin) {}

  /** Creates the topics that do not exist; returns the names it created. */
  async createMissing(topics: TopicToCreate[]): Promise<string[]> {
    const existing = new Set(await this.admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length === 0) return [];
    const specs: ITopicConfig[] = missing.map((t) => ({
      topic: t.name,
      numPartitions: t.partitions,
      replicationFactor: t.replicationFactor,
      configEntries: Object.entries(t.configs).map(([name, value]) => ({ name, value })),
    }));
    await this.admin.createTopics({ topics: specs, waitForLeaders: true });
    return missing.map((t) => t.name);
  }

  async partitionCounts(names: string[]): Promise<Map<string, number>> {
    const existing = new Set(await this.admin.listTopics());
    const present = names.filter((n) => existing.has(n));
    const counts = new Map<string, number>();
    if (present.length === 0) return counts;
    const { topics } = await this.admin.fetchTopicMetadata({ topics: present });
    for (const t of topics) counts.set(t.name, t.partitions.length);
    return counts;
  }

  async deleteTopics(names: string[]): Promise<void> {
    const existing = new Set(await this.admin.listTopics());
    const present = names.filter((n) => existing.has(n));
    if (present.length > 0) await this.admin.deleteTopics({ topics: present });
  }

  /** Latest offsets (high watermarks) of every partition of a topic. */
  async endOffsets(topic: string): Promise<Map<number, string>> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, o.high]));
  }

  /** Moves a consumer group (which must be stopped) to the earliest offsets of the topics. */
  async resetGroupToEarliest(groupId: string, topics: string[]): Promise<void> {
    for (const topic of topics) await this.admin.resetOffsets({ groupId, topic, earliest: true });
  }

  /** Records the group has not committed yet, summed over the topics' partitions. */
  async groupLag(groupId: string, topics: string[]): Promise<number> {
    let lag = 0;
    const committed = await this.admin.fetchOffsets({ groupId, topics });
    for (const { topic, partitions } of committed) {
      const ends = await this.endOffsets(topic);
      for (const { partition, offset } of partitions) {
        const end = Number(ends.get(partition) ?? 0);
        lag += Math.max(0, end - Math.max(0, Number(offset)));
      }
    }
    return lag;
  }

  /** Consumer groups whose id starts with `prefix` (cleanup of a tool's own groups). */
  async groupsStartingWith(prefix: string): Promise<string[]> {
    const { groups } = await this.admin.listGroups();
    return groups.map((g) => g.groupId).filter((id) => id.startsWith(prefix));
  }

  /** Topics whose name starts with `prefix`. */
  async topicsStartingWith(prefix: string): Promise<string[]> {
    return (await this.admin.listTopics()).filter((t) => t.startsWith(prefix));
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.admin.deleteGroups([groupId]).catch(() => undefined);
  }

  /** Earliest offsets (log start) of every partition of a topic. */
  async startOffsets(topic: string): Promise<Map<number, string>> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, o.low]));
  }

  /**
   * Per partition, the first offset whose record timestamp is at or after `timestamp` (the end
   * offset when there is none), as Kafka's ListOffsets answers.
   */
  async offsetsForTime(topic: string, timestamp: number): Promise<Map<number, string>> {
    const offsets = await this.admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
    return new Map(offsets.map((o) => [o.partition, o.offset]));
  }

  /** A group's committed offsets for a topic's partitions ('-1' where it has none). */
  async committedOffsets(groupId: string, topic: string): Promise<Map<number, string>> {
    const [committed] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((committed?.partitions ?? []).map((p) => [p.partition, p.offset]));
  }

  /** Positions a consumer group (which must have no running member) at the given offsets. */
  async setGroupOffsets(
    groupId: string,
    topic: string,
    offsets: Map<number, string>,
  ): Promise<void> {
    await this.admin.setOffsets({
      groupId,
      topic,
      partitions: [...offsets].map(([partition, offset]) => ({ partition, offset })),
    });
  }

  /** How many consumers are members of the group right now (0 when it is empty or unknown). */
  async groupMemberCount(groupId: string): Promise<number> {
    const { groups } = await this.admin.describeGroups([groupId]);
    return groups[0]?.members.length ?? 0;
  }
}
