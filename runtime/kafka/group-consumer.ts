import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { CoPartitionAssigner } from './co-partition-assigner';
import { KafkaUnavailableError } from './errors';
import { TopicAdmin } from './topic-admin';
import type { CommitPosition, ConsumerStatus, GroupConsumer, GroupConsumerOptions } from './types';

/** TICKS_SESSION_TIMEOUT_MS' default, for consumers made without the configuration. */
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;

/**
 * Crashes kafkajs gives up on although a broker coming back cures them: it restarts a consumer
 * only after a retriable error, and a coordinator lookup that fails while the broker restarts is
 * a non-retriable one (the consumer then stayed down for good: its liveness red, nothing
 * processed until the process was restarted). These are restarted here.
 */
const OUTAGE_CRASHES = new Set(['KafkaJSGroupCoordinatorNotFound', 'KafkaJSConnectionError']);
/** First wait before restarting after such a crash; doubled per failed attempt, up to the max. */
const RESTART_FIRST_MS = 500;
const RESTART_MAX_MS = 10_000;

/** Whether the crash or an error it wraps (kafkajs' retrier wraps the last one) is an outage's. */
function isOutageCrash(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    if (OUTAGE_CRASHES.has(e.name)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** kafkajs' answer to a seek while its consumer has no group (before run, or restarting). */
function isNotRunningGroup(err: unknown): boolean {
  return err instanceof Error && /Consumer group was not initialized/.test(err.message);
}

/**
 * A GroupConsumer on a kafkajs consumer: batches handed over with manual commits, the
 * co-partition assigner when asked for, seek and pause as kafkajs offers them.
 */
export class KafkaGroupConsumer implements GroupConsumer {
  private readonly consumer: Consumer;
  private started = false;
  private current: ConsumerStatus = { state: 'stopped' };
  private restartTimer: NodeJS.Timeout | undefined;
  /** With keepsPlace: per topic, per partition, the next offset this consumer is to read. */
  private readonly places = new Map<string, Map<number, string>>();

  constructor(
    private readonly kafka: Kafka,
    private readonly options: GroupConsumerOptions,
    private readonly brokers: string[],
  ) {
    const sessionTimeout = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    const consumer = kafka.consumer({
      groupId: options.groupId,
      partitionAssigners: options.coPartitioned ? [CoPartitionAssigner] : undefined,
      sessionTimeout,
      // A member learns of a rebalance (a member gone or leaving) from its next heartbeat's
      // answer: every second, so a takeover waits at most that long for the survivors (a
      // heartbeat is one small request). Three per session at least, so that one lost
      // heartbeat does not cost the membership.
      heartbeatInterval: Math.min(1000, Math.floor(sessionTimeout / 3)),
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (this.started) this.current = { state: 'running' };
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      const error = payload.error instanceof Error ? payload.error.message : String(payload.error);
      const outage = !payload.restart && isOutageCrash(payload.error);
      this.current = { state: payload.restart || outage ? 'restarting' : 'crashed', error };
      if (outage) this.restartAfter(RESTART_FIRST_MS);
    });
    if (options.keepsPlace)
      consumer.on(consumer.events.GROUP_JOIN, (event) =>
        this.resumePlaces(event.payload.memberAssignment),
      );
    if (options.onAssignment) {
      const onAssignment = options.onAssignment;
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        onAssignment(event.payload.memberAssignment);
      });
    }
    if (options.onHeartbeat) {
      const onHeartbeat = options.onHeartbeat;
      consumer.on(consumer.events.HEARTBEAT, () => onHeartbeat());
    }
  }

  status(): ConsumerStatus {
    return this.current;
  }

  async start(): Promise<void> {
    this.current = { state: 'starting' };
    try {
      if (this.options.keepsPlace && !this.options.fromBeginning) await this.placeAtEnds();
      await this.consumer.connect();
      await this.consumer.subscribe({
        topics: this.options.topics,
        fromBeginning: this.options.fromBeginning,
      });
    } catch (err) {
      this.current = { state: 'stopped' };
      throw new KafkaUnavailableError(this.brokers, err);
    }
    this.started = true;
    await this.run();
  }

  /** After an outage crash (kafkajs disconnected the consumer): connect and run again. */
  private restartAfter(ms: number): void {
    if (!this.started) return;
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.started) return;
      this.consumer
        .connect()
        .then(() => this.run())
        .catch(() => this.restartAfter(Math.min(ms * 2, RESTART_MAX_MS)));
    }, ms);
  }

  private async run(): Promise<void> {
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
        if (last) {
          payload.resolveOffset(last.offset);
          if (this.options.keepsPlace)
            this.placesOf(batch.topic).set(batch.partition, (BigInt(last.offset) + 1n).toString());
        }
      },
    });
  }

  private placesOf(topic: string): Map<number, string> {
    let places = this.places.get(topic);
    if (!places) this.places.set(topic, (places = new Map()));
    return places;
  }

  /** The end of each topic's partitions, where this consumer has no place yet (keepsPlace). */
  private async placeAtEnds(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const topics = new TopicAdmin(admin);
      for (const topic of this.options.topics) {
        const places = this.placesOf(topic);
        for (const [partition, end] of await topics.endOffsets(topic))
          if (!places.has(partition)) places.set(partition, end);
      }
    } finally {
      await admin.disconnect();
    }
  }

  /** After a (re)join: each partition assigned resumes at this consumer's place (keepsPlace). */
  private resumePlaces(assignment: Record<string, number[]>): void {
    for (const [topic, partitions] of Object.entries(assignment))
      for (const partition of partitions) {
        const next = this.places.get(topic)?.get(partition);
        if (next !== undefined) this.seek({ topic, partition, nextOffset: next });
      }
  }

  async commit(positions: CommitPosition[]): Promise<void> {
    if (positions.length === 0) return;
    await this.consumer.commitOffsets(
      positions.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.nextOffset })),
    );
  }

  /**
   * Fetches the partition again from `position`. While kafkajs restarts a consumer that crashed
   * (a broker gone: connection refused, the coordinator moved), it has no group and refuses to
   * seek: nothing to do then, as the restarted consumer rejoins and fetches every partition it
   * gets from the committed offsets, where a rewind points at most. Thrown in a commit's
   * callback, that refusal used to end the process (an unhandled rejection).
   */
  seek(position: CommitPosition): void {
    try {
      this.consumer.seek({
        topic: position.topic,
        partition: position.partition,
        offset: position.nextOffset,
      });
    } catch (err) {
      if (!isNotRunningGroup(err)) throw err;
    }
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    clearTimeout(this.restartTimer);
    this.current = { state: 'stopped' };
    await this.consumer.disconnect();
  }
}
