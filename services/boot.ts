import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../stores/redis/connect';
import type { Logger } from 'pino';
import type { TicksConfig } from '../config/config';
import type { AvroCodec } from '../schemas/avro-codec';
import { connectOptionalRedis, connectRedis } from '../stores/redis/connect';

import { ensureTopics } from '../runtime/ensure-topics';
import { KafkaClient } from '../runtime/kafka/kafka-client';
import type { PartitionStateStore, Processor, Punctuator } from '../runtime/api';
import { StreamRuntime, type StreamRuntimeOptions } from '../runtime/internals/stream-runtime';
import type { PipelineMetrics } from '../runtime/metrics';
import { topicNames, type TopicNames } from '../runtime/topics';
import { SettingsTable } from '../processors/privacy/settings-table';

/** An aux command not answered in this time fails: a step does not wait for a hung aux. */
const AUX_COMMAND_TIMEOUT_MS = 1_000;

export interface ServiceBootOptions {
  config: TicksConfig;
  logger: Logger;
  codec: AvroCodec;
  /** Names the service's Kafka client: `<TICKS_KAFKA_CLIENT_ID>-<suffix>` (none: the base id). */
  clientSuffix?: string;
  /** The Kafka boundary to use instead of a new client (the replay command bounds its consumer). */
  kafka?: KafkaClient;
}

export interface BootNeeds {
  /** The Redis the service keeps state in: the main one, or main and auxiliary (badge dedupe). */
  redis?: 'main' | 'main+aux';
  /**
   * A second connection to the main Redis for the partition leases (leaseRedis): a renewal
   * waits behind nothing this process sends — not behind the steps' write-behinds and loads
   * queued on the main connection (one connection answers in order), so how fast the steps go
   * never decides whether a lease runs out.
   */
  leaseConnection?: boolean;
  /** The service's own topic checks, once the topics exist (before any schema is registered). */
  checkTopics?(kafka: KafkaClient, topics: TopicNames): Promise<void>;
}

/**
 * The start-up every deployable shares, in one order: topic names, ensure the topics (which also
 * refuses co-partitioned topics whose partition counts disagree), register every topic's value
 * schema, connect the Redis the service needs. A service has exactly one Kafka client, made here
 * and shared by its consumers, producer and admin calls. Also the one place that loads the
 * user_settings global table on a throwaway consumer group.
 *
 * What start() and startSettingsTable() opened, stop() closes; a boot can start again after it.
 */
export class ServiceBoot {
  readonly kafka: KafkaClient;
  readonly topics: TopicNames;
  /** The service's Kafka client id (`<TICKS_KAFKA_CLIENT_ID>[-<suffix>]`). */
  readonly clientId: string;
  private main: RedisClient | undefined;
  private auxiliary: RedisClient | undefined;
  private leases: RedisClient | undefined;
  private settings: SettingsTable | undefined;

  constructor(private readonly options: ServiceBootOptions) {
    const { config } = options;
    this.topics = topicNames(config);
    this.clientId = options.clientSuffix
      ? `${config.kafka.clientId}-${options.clientSuffix}`
      : config.kafka.clientId;
    this.kafka =
      options.kafka ??
      new KafkaClient({
        brokers: config.kafka.brokers,
        clientId: this.clientId,
        logger: options.logger,
        sendTimeoutMs: config.kafka.sendTimeoutMs,
      });
  }

  async start(needs: BootNeeds = {}): Promise<void> {
    const { config, codec } = this.options;
    await ensureTopics(this.kafka, config);
    await needs.checkTopics?.(this.kafka, this.topics);
    await codec.registerAll(this.topics);
    // Named after the Kafka client and the pid: CLIENT LIST (or a test) tells whose it is.
    const name = `${this.clientId}:${process.pid}`;
    if (needs.redis) this.main = await connectRedis(config.redis.main, 'main', { name });
    if (needs.leaseConnection)
      this.leases = await connectRedis(config.redis.main, 'main', {
        name: `${this.clientId}-leases:${process.pid}`,
      });
    if (needs.redis === 'main+aux')
      // Its marks only save main writes: without it, badges go to main unguarded (UserStore).
      this.auxiliary = await connectOptionalRedis(config.redis.aux, 'auxiliary', {
        name,
        commandTimeoutMs: AUX_COMMAND_TIMEOUT_MS,
        onUnavailable: (err) =>
          this.options.logger.warn(
            { err: err.message },
            'auxiliary Redis not reachable at start: badges written without dedupe until it answers',
          ),
      });
  }

  /** The main Redis (hot state); start({ redis }) connects it. */
  get redis(): RedisClient {
    if (!this.main) throw new Error('main Redis not connected: start the boot with { redis }');
    return this.main;
  }

  /** The main Redis on a connection of its own for the partition leases (start({ leaseConnection })). */
  get leaseRedis(): RedisClient {
    if (!this.leases)
      throw new Error('lease connection not open: start the boot with { leaseConnection: true }');
    return this.leases;
  }

  /** The auxiliary Redis (badge dedupe marks); start({ redis: 'main+aux' }) connects it. */
  get aux(): RedisClient {
    if (!this.auxiliary)
      throw new Error("auxiliary Redis not connected: start the boot with { redis: 'main+aux' }");
    return this.auxiliary;
  }

  /**
   * The user_settings topic as a global table (who turned read receipts off), loaded whole before
   * this resolves. Every process reads all of it, so its consumer group is its own and
   * throwaway: `<groupPrefix>-settings-<uuid>`, deleted by stop().
   */
  async startSettingsTable(groupPrefix: string): Promise<SettingsTable> {
    const { codec, logger } = this.options;
    const settings = new SettingsTable(this.kafka, codec, this.topics.userSettings, logger);
    this.settings = settings;
    await settings.start(`${groupPrefix}-settings-${randomUUID()}`);
    return settings;
  }

  /**
   * A stream runtime over this service's Kafka client, codec and topics, in the consumer group
   * `groupId`: what differs between services is their processors, punctuators and tuning.
   */
  streamRuntime(spec: {
    groupId: string;
    processors: Array<Processor<never>>;
    punctuators?: Punctuator[];
    stateStores?: PartitionStateStore[];
    metrics: PipelineMetrics;
    tuning?: Pick<StreamRuntimeOptions, 'task' | 'produceLingerMs' | 'onDeliveryStage'>;
    /** Partition leases fencing the state writes (the pipeline); none: no fencing. */
    leases?: StreamRuntimeOptions['leases'];
  }): StreamRuntime {
    const { config, codec, logger } = this.options;
    return new StreamRuntime({
      kafka: this.kafka,
      codec,
      topics: this.topics,
      groupId: spec.groupId,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      processors: spec.processors as Processor<unknown>[],
      punctuators: spec.punctuators ?? [],
      stateStores: spec.stateStores ?? [],
      metrics: spec.metrics,
      logger,
      leases: spec.leases,
      ...spec.tuning,
    });
  }

  /** Idempotent: stops the settings table (deleting its group) and disconnects Redis. */
  async stop(): Promise<void> {
    await this.settings?.stop();
    this.settings = undefined;
    this.main?.disconnect();
    this.auxiliary?.disconnect();
    this.leases?.disconnect();
    this.main = this.auxiliary = this.leases = undefined;
  }
}
