import { randomBytes } from 'node:crypto';
import type { Client } from 'cassandra-driver';
import pino from 'pino';
import { loadConfig, type TicksConfig } from '../../config/config';
import { AvroCodec } from '../../schemas/avro-codec';
import type { DeadLetter, ReceiptUpdate, StateChange } from '../../schemas/types';
import { connectCassandra } from '../../stores/cassandra/connect';
import { DurableStateReader } from '../../stores/cassandra/durable-state-reader';
import { ensureCassandraSchema } from '../../stores/cassandra/ensure-schema';
import { connectRedis, type RedisClient } from '../../stores/redis/connect';
import { deleteKeys, scanKeys } from '../../stores/redis/keyspace';
import { RedisKeys } from '../../stores/redis/keys';
import { ReadModel } from '../../stores/redis/read-model';
import { ensureTopics } from '../../runtime/ensure-topics';
import { EventPublisher } from '../../runtime/event-publisher';
import { KafkaClient } from '../../runtime/kafka/kafka-client';
import type { GroupConsumer, RecordProducer } from '../../runtime/kafka/types';
import { PersisterService } from '../../services/persister-service';
import { Pipeline } from '../../services/pipeline';
import { topicNames, topicSpecs, type TopicNames } from '../../runtime/topics';

/** What the pipeline produced, decoded, in arrival order. */
export class OutputCollector {
  readonly updates: ReceiptUpdate[] = [];
  /** Each update's record timestamp: when its producer built the request (ms, its clock). */
  readonly updateTimestamps: number[] = [];
  readonly deadLetters: DeadLetter[] = [];
  /** The changelog's changes, unpacked from its records in order. */
  readonly stateChanges: StateChange[] = [];
  /** Each change's record timestamp (see updateTimestamps). */
  readonly changeTimestamps: number[] = [];
  /** state_changes records seen (each holds a step's changes). */
  changelogRecords = 0;
  /** The state_changes partitions each conversation's changes arrived on. */
  readonly changelogPartitions = new Map<string, Set<number>>();
  /** `${topic}/${partition}` → the offset after the last record read. */
  private readonly positions = new Map<string, number>();
  private consumer: GroupConsumer | undefined;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly codec: AvroCodec,
    private readonly topics: TopicNames,
  ) {}

  async start(groupId: string): Promise<void> {
    this.consumer = this.kafka.groupConsumer({
      groupId,
      topics: [this.topics.receiptUpdates, this.topics.deadLetters, this.topics.stateChanges],
      coPartitioned: false,
      fromBeginning: true,
      // It commits nothing: rejoining its group under a loaded suite, it would read every
      // topic again from the beginning and collect each output twice.
      keepsPlace: true,
      onBatch: async (batch) => {
        for (const r of batch.records) {
          const decoded = await this.codec.decode(r.value!);
          if (decoded.role === 'receiptUpdates') {
            this.updates.push(decoded.value);
            this.updateTimestamps.push(r.timestamp);
          } else if (decoded.role === 'deadLetters') this.deadLetters.push(decoded.value);
          else if (decoded.role === 'stateChanges') {
            this.changelogRecords++;
            this.stateChanges.push(...decoded.value.changes);
            for (const change of decoded.value.changes) {
              this.changeTimestamps.push(r.timestamp);
              const seen = this.changelogPartitions.get(change.conversation_id) ?? new Set();
              this.changelogPartitions.set(change.conversation_id, seen.add(batch.partition));
            }
          }
        }
        const last = batch.records[batch.records.length - 1];
        if (last) this.positions.set(`${batch.topic}/${batch.partition}`, Number(last.offset) + 1);
      },
    });
    await this.consumer.start();
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }

  /** The offset after the last record read from a partition of an output topic (0: none yet). */
  position(topic: string, partition: number): number {
    return this.positions.get(`${topic}/${partition}`) ?? 0;
  }

  updatesFor(userId: string, kind?: string): ReceiptUpdate[] {
    return this.updates.filter(
      (u) => u.user_id === userId && (!kind || `dev.ticks.${kind}` in u.payload),
    );
  }
}

/** Polls until `check` returns true (or a value), failing with `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | false | undefined> | T | false | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const result = await check();
      if (result !== false && result !== undefined) return result as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Harness {
  id: string;
  config: TicksConfig;
  env: Record<string, string>;
  codec: AvroCodec;
  kafka: KafkaClient;
  topics: TopicNames;
  publish: EventPublisher;
  out: OutputCollector;
  redis: RedisClient;
  aux: RedisClient;
  keys: RedisKeys;
  read: ReadModel;
  pipeline: Pipeline;
  /** Starts the in-process pipeline (if `startPipeline` was false, or after stopPipeline). */
  startPipeline(): Promise<void>;
  stopPipeline(): Promise<void>;
  /** With `cassandra: true`: the test's own keyspace (t<id>), migrated, dropped by close(). */
  cassandra: Client | undefined;
  durable: DurableStateReader | undefined;
  /** Starts the in-process persister (group ticks-test-<id>-persister); needs `cassandra: true`. */
  startPersister(): Promise<PersisterService>;
  stopPersister(): Promise<void>;
  close(): Promise<void>;
}

/**
 * An isolated ticks on the real stack: its own topics, Redis key prefix and consumer groups, so
 * tests never see each other's data; close() deletes all of it.
 */
export async function createHarness(
  overrides: Record<string, string> = {},
  options: { startPipeline?: boolean; cassandra?: boolean } = {},
): Promise<Harness> {
  const id = randomBytes(4).toString('hex');
  const env: Record<string, string> = {
    TICKS_TOPIC_PREFIX: `t${id}.`,
    TICKS_REDIS_KEY_PREFIX: `t${id}`,
    TICKS_GROUP_ID: `ticks-test-${id}`,
    TICKS_PARTITIONS: '2',
    TICKS_PENDING_RECEIPT_WAIT_MS: '4000',
    // Below the shortest session timeout the tests use (6 s); a restart after a kill waits for
    // the dead process's leases at most this long.
    TICKS_PARTITION_LEASE_MS: '4000',
    TICKS_LOG_LEVEL: 'warn',
    TICKS_CASSANDRA_KEYSPACE: `t${id}`,
    TICKS_PERSISTER_GROUP_ID: `ticks-test-${id}-persister`,
    // Auth as in production: a secret of the test's own (the development one needs dev mode).
    TICKS_AUTH_SECRET: `test-secret-${randomBytes(16).toString('hex')}`,
    ...overrides,
  };
  const config = loadConfig({ ...process.env, ...env });
  const topics = topicNames(config);
  const kafka = new KafkaClient({ brokers: config.kafka.brokers, clientId: `ticks-test-${id}` });
  const codec = AvroCodec.connect({ url: config.registryUrl });
  await ensureTopics(kafka, config);
  await codec.registerAll(topics);
  const producer: RecordProducer = await kafka.producer();
  const out = new OutputCollector(kafka, codec, topics);
  await out.start(`ticks-test-out-${id}`);
  const redis = await connectRedis(config.redis.main, 'main');
  const aux = await connectRedis(config.redis.aux, 'auxiliary');
  const keys = new RedisKeys(config.redis.keyPrefix);
  const logger = pino({ level: config.logLevel });
  let pipeline = new Pipeline({ config, logger, codec });
  let running = false;
  let cassandra: Client | undefined;
  if (options.cassandra) {
    await ensureCassandraSchema(config);
    cassandra = await connectCassandra(config);
  }
  let persister: PersisterService | undefined;

  const harness: Harness = {
    id,
    config,
    env,
    codec,
    kafka,
    topics,
    publish: new EventPublisher(producer, codec, topics),
    out,
    redis,
    aux,
    keys,
    read: new ReadModel(redis, keys),
    get pipeline() {
      return pipeline;
    },
    async startPipeline() {
      pipeline = new Pipeline({ config, logger, codec });
      await pipeline.start();
      running = true;
    },
    async stopPipeline() {
      if (running) await pipeline.stop();
      running = false;
    },
    cassandra,
    durable: cassandra ? new DurableStateReader(cassandra) : undefined,
    async startPersister() {
      if (!cassandra) throw new Error('createHarness(…, { cassandra: true }) to run the persister');
      persister = new PersisterService({ config, logger, codec });
      await persister.start();
      return persister;
    },
    async stopPersister() {
      await persister?.stop();
      persister = undefined;
    },
    async close() {
      await harness.stopPipeline();
      await harness.stopPersister();
      await out.stop();
      await producer.close();
      await kafka.withAdmin(async (admin) => {
        await admin.deleteTopics(topicSpecs(config).map((s) => s.name));
        for (const group of [
          config.kafka.groupId,
          `ticks-test-out-${id}`,
          config.persister.groupId,
        ])
          await admin.deleteGroup(group);
      });
      if (cassandra) {
        await cassandra.execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`);
        await cassandra.shutdown();
      }
      for (const client of [redis, aux]) {
        const stale = await scanKeys(client, `t${id}:*`);
        await deleteKeys(client, stale);
        client.disconnect();
      }
    },
  };
  if (options.startPipeline ?? true) await harness.startPipeline();
  return harness;
}

export { deleteKeys, scanKeys };

/** Waits until the processors committed everything in the input topics. */
export async function caughtUp(h: Harness, timeoutMs = 60_000): Promise<void> {
  await eventually(
    'the pipeline to commit every input record',
    async () =>
      (await h.kafka.withAdmin((a) =>
        a.groupLag(h.config.kafka.groupId, [h.topics.conversationEvents, h.topics.receiptEvents]),
      )) === 0,
    timeoutMs,
  );
}

/** Waits until the collector read every record the output topics hold now. */
export async function outputsCollected(h: Harness, timeoutMs = 30_000): Promise<void> {
  const topics = [h.topics.receiptUpdates, h.topics.deadLetters, h.topics.stateChanges];
  const ends = await h.kafka.withAdmin((a) => Promise.all(topics.map((t) => a.endOffsets(t))));
  await eventually(
    'the collector to read every output record',
    () =>
      topics.every((topic, i) =>
        [...ends[i]!].every(([partition, end]) => h.out.position(topic, partition) >= Number(end)),
      ),
    timeoutMs,
  );
}

/** Waits until the persister committed the whole changelog (so Cassandra holds all of it). */
export async function persisterCaughtUp(h: Harness, timeoutMs = 120_000): Promise<void> {
  await eventually(
    'the persister to commit every changelog record',
    async () =>
      (await h.kafka.withAdmin((a) =>
        a.groupLag(h.config.persister.groupId, [h.topics.stateChanges]),
      )) === 0,
    timeoutMs,
  );
}

/** Everything a user can see, for the given conversations: comparable between runs. */
export async function snapshot(
  h: Harness,
  conversations: ReadonlyArray<{ id: string; members: readonly string[] }>,
): Promise<Record<string, unknown>> {
  const state: Record<string, unknown> = {};
  const users = new Set<string>();
  for (const c of conversations) {
    for (const m of c.members) {
      users.add(m);
      state[`${c.id}/${m}`] = {
        watermark: await h.read.watermark(c.id, m),
        unread: await h.read.unread(c.id, m),
      };
    }
  }
  for (const u of [...users].sort()) state[`badge/${u}`] = await h.read.badge(u);
  return state;
}
