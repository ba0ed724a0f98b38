import { getHeapStatistics } from 'node:v8';
import type { Logger } from 'pino';
import type { TicksConfig } from '../config/config';
import type { AvroCodec } from '../schemas/avro-codec';
import { ConversationProcessor } from '../processors/conversation/conversation-processor';
import { UpdateEmitter } from '../processors/notifier/update-emitter';
import type { GroupWindowing } from '../processors/notifier/group-windowing';
import { WindowCloser } from '../processors/notifier/window-closer';
import { HeldReceipts } from '../processors/receipts/held-receipts';
import { ReceiptApplier } from '../processors/receipts/receipt-applier';
import { ReceiptProcessor } from '../processors/receipts/receipt-processor';
import { StateSteps } from '../processors/state-steps';
import { BadgeUpdater } from '../processors/unread/badge-updater';
import { VisibleBadge } from '../processors/unread/visible-badge';
import { ConversationStates } from '../stores/state/conversation-states';
import { DedupeMarkCache } from '../stores/state/dedupe-mark-cache';
import { RedisKeys } from '../stores/redis/keys';
import { LegacyBadgeScan } from '../stores/redis/legacy-badges';
import { PartitionIndex } from '../stores/redis/partition-index';
import { PartitionLeases } from '../stores/redis/partition-lease';
import { ReadModel } from '../stores/redis/read-model';
import { UserStore } from '../stores/redis/user-store';
import type { KafkaClient } from '../runtime/kafka/kafka-client';
import {
  cachedCheck,
  consumerAlive,
  consumerRunning,
  processHealth,
  type ProcessHealth,
} from '../runtime/health';
import { PipelineMetrics } from '../runtime/metrics';
import { DEFAULT_TASK_OPTIONS, type StreamRuntime } from '../runtime/internals/stream-runtime';
import { ServiceBoot } from './boot';
import { deliveryFault } from './fault-injection';
import { heapBudgetWarning } from './heap-budget';
import type { Component } from './run-service';

export interface PipelineOptions {
  config: TicksConfig;
  logger: Logger;
  codec: AvroCodec;
  metrics?: PipelineMetrics;
  /** Overrides config.kafka.groupId (tests run isolated groups). */
  groupId?: string;
  /** The Kafka boundary to use (the replay command bounds what its consumer sees). */
  kafka?: KafkaClient;
  /**
   * Whether a partition's steps wait for its lease (PartitionLeases, TICKS_PARTITION_LEASE_MS):
   * true by default. The replay command runs in a group of its own beside the processors, which
   * hold the leases: it takes none, or it would wait for theirs for ever.
   */
  partitionLeases?: boolean;
}

/**
 * The ticks topology, wired: sources (conversation_events, receipt_events) → processors
 * (conversation, receipts, unread badge, notifier) → sinks (receipt_updates, dead_letters), state
 * stores on Redis, the user_settings global table, and the punctuators that close windows and
 * expire held receipts.
 */
export class Pipeline implements Component {
  readonly name = 'pipeline';
  readonly metrics: PipelineMetrics;
  private runtime: StreamRuntime | undefined;
  private legacyBadges: LegacyBadgeScan | undefined;
  private readonly boot: ServiceBoot;

  constructor(private readonly options: PipelineOptions) {
    this.metrics = options.metrics ?? new PipelineMetrics();
    this.boot = new ServiceBoot({
      config: options.config,
      logger: options.logger,
      codec: options.codec,
      kafka: options.kafka,
    });
  }

  get groupId(): string {
    return this.options.groupId ?? this.options.config.kafka.groupId;
  }

  get ownedPartitions(): number[] {
    return this.runtime?.ownedPartitions ?? [];
  }

  /**
   * Liveness: the group consumer has not crashed for good. Readiness, besides: started, the
   * consumer in its group, no partition whose steps have kept failing for
   * TICKS_READY_MAX_FAILING_MS, the main Redis answering a PING (the auxiliary one is reported,
   * not required), Kafka answering through the bootstrap brokers.
   */
  health(): ProcessHealth {
    const consumer = () => this.runtime?.consumerStatus ?? { state: 'stopped' as const };
    const started =
      <T>(check: () => T) =>
      () => {
        if (!this.runtime) throw new Error('not started');
        return check();
      };
    const maxFailingMs = this.options.config.readyMaxFailingMs;
    return processHealth({
      live: { consumer: consumerAlive(consumer) },
      ready: {
        consumer: consumerRunning(consumer),
        steps: started(() => {
          const failing = this.runtime!.failingFor(maxFailingMs);
          if (failing.length > 0)
            return {
              ok: false,
              detail: `steps failing for more than ${maxFailingMs} ms (TICKS_READY_MAX_FAILING_MS): ${failing
                .map(
                  (f) => `partition ${f.partition} for ${f.failingMs} ms, ${f.failures} failures`,
                )
                .join('; ')} — the log's "step failed" lines say why`,
            };
        }),
        redis: started(() => this.boot.redis.ping()),
        // The auxiliary Redis is an optimisation: without it badges are written without dedupe,
        // so it is reported, never red (its commands time out within AUX_COMMAND_TIMEOUT_MS).
        redis_aux: started(() =>
          this.boot.aux.ping().then(
            () => ({ ok: true }),
            (err: Error) => ({
              ok: true,
              detail: `not answering (${err.message}): badges written without dedupe until it does`,
            }),
          ),
        ),
        kafka: cachedCheck(() => this.boot.kafka.probe(), 1000),
      },
      detail: () => ({ partitions: this.ownedPartitions }),
    });
  }

  async start(): Promise<void> {
    const { config, logger } = this.options;
    const { boot } = this;
    const { topics } = boot;
    const heapWarning = heapBudgetWarning(getHeapStatistics().heap_size_limit, {
      stateCacheBytes: config.stateCacheBytes,
      dedupeCacheEntries: config.dedupeCacheEntries,
      partitions: config.topics.partitions,
      inputTopics: 2,
      recordsPerQueue: DEFAULT_TASK_OPTIONS.maxBufferedRecords + config.maxStepRecords * 1.5,
    });
    if (heapWarning) logger.warn(heapWarning);
    const leasing = this.options.partitionLeases ?? true;
    await boot.start({ redis: 'main+aux', leaseConnection: leasing });
    // Like a GlobalKTable: the whole settings table is loaded before the first receipt.
    const settings = await boot.startSettingsTable(this.groupId);

    const keys = new RedisKeys(config.redis.keyPrefix);
    const leases = leasing
      ? new PartitionLeases(boot.leaseRedis, keys, { ttlMs: config.partitionLeaseMs })
      : undefined;
    const fence = leases && ((partition: number) => leases.fence(partition));
    const states = new ConversationStates(boot.redis, keys, {
      maxBytes: config.stateCacheBytes,
      fence,
      ttlSeconds: config.hotStateTtlSeconds,
    });
    const steps = new StateSteps(states, config.hotStateTtlSeconds, config.maxIndexedMessages);
    this.legacyBadges = new LegacyBadgeScan(boot.redis, keys, {
      onRetired: () =>
        logger.info('no older badge hash left in main Redis: their commands retired'),
      onError: (err) => logger.warn({ err }, 'looking for older badge hashes failed; again later'),
    });
    void this.legacyBadges.start(); // in the background: a large keyspace takes a while to walk
    const users = new UserStore(
      boot.redis,
      boot.aux,
      keys,
      config.hotStateTtlSeconds,
      config.auxDedupeTtlSeconds,
      fence,
      this.legacyBadges,
    );
    const windows = new PartitionIndex(boot.redis, keys, 'windows', fence);
    const heldIndex = new PartitionIndex(boot.redis, keys, 'held', fence);
    const emitter = new UpdateEmitter(this.metrics);
    const marks =
      config.dedupeCacheEntries > 0
        ? new DedupeMarkCache(config.dedupeCacheEntries, config.auxDedupeTtlSeconds * 1000)
        : undefined;
    const badges = new BadgeUpdater(users, this.metrics, marks, logger);
    const sharesReads = (userId: string) => settings.sharesReads(userId);
    this.metrics.cacheSizes = () => [
      { cache: 'conversation_states', measure: 'entries', value: states.size.states },
      { cache: 'conversation_states', measure: 'estimated_bytes', value: states.size.bytes },
      { cache: 'dedupe_marks', measure: 'entries', value: marks?.size ?? 0 },
    ];

    const windowing: GroupWindowing = {
      steps,
      windows,
      emitter,
      metrics: this.metrics,
      sharesReads,
      windowMs: config.windowMs,
      windowGraceMs: config.windowGraceMs,
    };
    const visibleBadge = new VisibleBadge(new ReadModel(boot.redis, keys), (userId, now) =>
      settings.mutedConversations(userId, now),
    );
    const applier = new ReceiptApplier({ ...windowing, badges, visibleBadge });
    const heldReceipts = new HeldReceipts({
      keys,
      index: heldIndex,
      applier,
      steps,
      metrics: this.metrics,
      waitMs: config.heldReceiptWaitMs,
      maxHeldPerConversation: config.maxHeldPerConversation,
      maxHeldPerUser: config.maxHeldPerUser,
      punctuateIntervalMs: config.punctuateIntervalMs,
    });
    const receipts = new ReceiptProcessor({
      applier,
      held: heldReceipts,
      metrics: this.metrics,
      maxDeliveredBatch: config.maxDeliveredBatch,
    });
    const conversations = new ConversationProcessor({
      steps,
      users,
      badges,
      held: heldReceipts,
      metrics: this.metrics,
      windowing,
      visibleBadge,
    });
    const windowCloser = new WindowCloser({
      ...windowing,
      punctuateIntervalMs: config.punctuateIntervalMs,
      maxMessagesPerSender: 50,
    });

    this.runtime = boot.streamRuntime({
      groupId: this.groupId,
      processors: [conversations, receipts],
      punctuators: [windowCloser, heldReceipts],
      // The indexes are the owner's too: kept in memory, read again after a reset.
      stateStores: [states, windows, heldIndex, ...(marks ? [marks] : [])],
      metrics: this.metrics,
      tuning: {
        task: { maxStepRecords: config.maxStepRecords },
        produceLingerMs: config.produceLingerMs,
        onDeliveryStage: deliveryFault(config.faultKillAt, logger),
      },
      leases,
    });
    await this.runtime.start();
    logger.info({ topics, groupId: this.groupId }, 'pipeline started');
  }

  /** Idempotent: finishes the batch in flight, commits, leaves the group, closes connections. */
  async stop(): Promise<void> {
    this.legacyBadges?.stop();
    await this.runtime?.stop();
    this.runtime = undefined;
    await this.boot.stop();
  }
}
