import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { TicksConfig } from '../config/config';
import type { AvroCodec } from '../schemas/avro-codec';
import { connectRedis } from '../stores/redis/connect';
import { RedisKeys } from '../stores/redis/keys';
import { OfflineStore } from '../stores/redis/offline-store';
import { ensureTopics } from '../runtime/ensure-topics';
import { KafkaClient } from '../runtime/kafka/kafka-client';
import { PipelineMetrics } from '../runtime/metrics';
import type { Processor } from '../runtime/api';
import { StreamRuntime } from '../runtime/internals/stream-runtime';
import { CoPartitioningError, topicNames } from '../runtime/topics';
import { OfflineMetrics } from '../processors/offline/offline-metrics';
import { OfflineUpdatesProcessor } from '../processors/offline/offline-updates-processor';
import { PresenceProcessor } from '../processors/offline/presence-processor';

export interface OfflineBatcherOptions {
  config: TicksConfig;
  logger: Logger;
  codec: AvroCodec;
  /** Shares a process's metrics registry (the run command); a new one otherwise. */
  metrics?: PipelineMetrics;
  /** Overrides config.offline.groupId (tests run isolated groups). */
  groupId?: string;
  maxUpdatesPerBatch?: number;
}

/**
 * The offline batcher: receipt_updates + presence (both keyed by user_id, same partition count:
 * co-partitioned, so one process owns all of a user's updates and presence) → coalesced state
 * in Redis → one OfflineBatch on receipt_updates when the user reconnects. Its own consumer
 * group and committed position: it runs beside the pipeline or as its own deployment.
 */
export class OfflineBatcher {
  readonly metrics: PipelineMetrics;
  readonly offlineMetrics: OfflineMetrics;
  private runtime: StreamRuntime | undefined;
  private redis: Redis | undefined;
  private readonly kafka: KafkaClient;
  private storeInstance: OfflineStore | undefined;

  constructor(private readonly o: OfflineBatcherOptions) {
    this.metrics = o.metrics ?? new PipelineMetrics();
    this.offlineMetrics = new OfflineMetrics(this.metrics.registry);
    this.kafka = new KafkaClient({
      brokers: o.config.kafka.brokers,
      clientId: `${o.config.kafka.clientId}-offline`,
      logger: o.logger,
    });
  }

  get groupId(): string {
    return this.o.groupId ?? this.o.config.offline.groupId;
  }

  get ownedPartitions(): number[] {
    return this.runtime?.ownedPartitions ?? [];
  }

  /** The state store (tests and tools read it). Available after start(). */
  get store(): OfflineStore {
    if (!this.storeInstance) throw new Error('OfflineBatcher not started');
    return this.storeInstance;
  }

  async start(): Promise<void> {
    const { config, logger, codec } = this.o;
    const topics = topicNames(config);
    await ensureTopics(this.kafka, config);
    await this.assertCoPartitioned(topics.receiptUpdates, topics.presence);
    await codec.registerAll(topics);
    this.redis = await connectRedis(config.redis.mainUrl, 'main');
    this.storeInstance = new OfflineStore(
      this.redis,
      new RedisKeys(config.redis.keyPrefix),
      config.offline.ttlSeconds,
    );
    this.runtime = new StreamRuntime({
      kafka: this.kafka,
      codec,
      topics,
      groupId: this.groupId,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      processors: [
        new OfflineUpdatesProcessor(this.storeInstance, this.offlineMetrics),
        new PresenceProcessor(
          this.storeInstance,
          this.offlineMetrics,
          this.o.maxUpdatesPerBatch ?? 500,
        ),
      ] as Processor<unknown>[],
      punctuators: [],
      metrics: this.metrics,
      logger,
    });
    await this.runtime.start();
    logger.info({ groupId: this.groupId }, 'offline batcher started');
  }

  /** Idempotent: finishes the batch in flight, commits, leaves the group, closes Redis. */
  async stop(): Promise<void> {
    await this.runtime?.stop();
    this.runtime = undefined;
    this.redis?.disconnect();
    this.redis = undefined;
  }

  private async assertCoPartitioned(updates: string, presence: string): Promise<void> {
    const counts = await this.kafka.withAdmin((admin) =>
      admin.partitionCounts([updates, presence]),
    );
    if (counts.get(updates) !== counts.get(presence))
      throw new CoPartitioningError(
        `${updates} (${counts.get(updates)} partitions) and ${presence} (${counts.get(presence)}) must have the same partition count: the offline batcher reads both keyed by user_id`,
      );
  }
}
