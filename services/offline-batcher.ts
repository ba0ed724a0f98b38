import type { Logger } from 'pino';
import type { TicksConfig } from '../config/config';
import type { AvroCodec } from '../schemas/avro-codec';
import { RedisKeys } from '../stores/redis/keys';
import { OfflineStore } from '../stores/redis/offline-store';
import { ReadModel } from '../stores/redis/read-model';
import type { KafkaClient } from '../runtime/kafka/kafka-client';
import { PipelineMetrics } from '../runtime/metrics';
import type { StreamRuntime } from '../runtime/internals/stream-runtime';
import { CoPartitioningError } from '../runtime/topics';
import { OfflineMetrics } from '../processors/offline/offline-metrics';
import { OfflineUpdatesProcessor } from '../processors/offline/offline-updates-processor';
import { PresenceProcessor } from '../processors/offline/presence-processor';
import { ServiceBoot } from './boot';
import type { Component } from './run-service';

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
export class OfflineBatcher implements Component {
  readonly name = 'offline batcher';
  readonly metrics: PipelineMetrics;
  readonly offlineMetrics: OfflineMetrics;
  private runtime: StreamRuntime | undefined;
  private readonly boot: ServiceBoot;
  private storeInstance: OfflineStore | undefined;

  constructor(private readonly options: OfflineBatcherOptions) {
    this.metrics = options.metrics ?? new PipelineMetrics();
    this.offlineMetrics = new OfflineMetrics(this.metrics.registry);
    this.boot = new ServiceBoot({
      config: options.config,
      logger: options.logger,
      codec: options.codec,
      clientSuffix: 'offline',
    });
  }

  get groupId(): string {
    return this.options.groupId ?? this.options.config.offline.groupId;
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
    const { config, logger } = this.options;
    const { boot } = this;
    const { topics } = boot;
    await boot.start({
      redis: 'main',
      checkTopics: (kafka) => assertCoPartitioned(kafka, topics.receiptUpdates, topics.presence),
    });
    const keys = new RedisKeys(config.redis.keyPrefix);
    this.storeInstance = new OfflineStore(boot.redis, keys, config.offline.ttlSeconds);
    this.runtime = boot.streamRuntime({
      groupId: this.groupId,
      processors: [
        new OfflineUpdatesProcessor(this.storeInstance, this.offlineMetrics),
        new PresenceProcessor(
          this.storeInstance,
          this.offlineMetrics,
          this.options.maxUpdatesPerBatch ?? 500,
          config.offline.presenceLeaseMs,
          new ReadModel(boot.redis, keys),
        ),
      ],
      metrics: this.metrics,
    });
    await this.runtime.start();
    logger.info({ groupId: this.groupId }, 'offline batcher started');
  }

  /** Idempotent: finishes the batch in flight, commits, leaves the group, closes Redis. */
  async stop(): Promise<void> {
    await this.runtime?.stop();
    this.runtime = undefined;
    await this.boot.stop();
  }
}

async function assertCoPartitioned(
  kafka: KafkaClient,
  updates: string,
  presence: string,
): Promise<void> {
  const counts = await kafka.withAdmin((admin) => admin.partitionCounts([updates, presence]));
  if (counts.get(updates) !== counts.get(presence))
    throw new CoPartitioningError(
      `${updates} (${counts.get(updates)} partitions) and ${presence} (${counts.get(presence)}) must have the same partition count: the offline batcher reads both keyed by user_id`,
    );
}
