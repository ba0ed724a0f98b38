import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ConfigError, devSecretProblem, type TicksConfig } from '../config/config';
import { GatewayMetrics } from '../gateway/gateway-metrics';
import { PushGateway } from '../gateway/push-gateway';
import type { AvroCodec } from '../schemas/avro-codec';
import type { ReceiptDetailsSource } from '../stores/receipt-details-source';
import { RedisKeys } from '../stores/redis/keys';
import { ReadModel } from '../stores/redis/read-model';
import { RedisReceiptDetails } from '../stores/redis/receipt-details';
import { EventPublisher } from '../runtime/event-publisher';
import { CoalescingRecordProducer } from '../runtime/kafka/coalescing-producer';
import type { RecordProducer } from '../runtime/kafka/types';
import {
  cachedCheck,
  consumerAlive,
  consumerRunning,
  processHealth,
  type ProcessHealth,
} from '../runtime/health';
import { PipelineMetrics } from '../runtime/metrics';
import type { SettingsTable } from '../processors/privacy/settings-table';
import { buildApiApp } from '../api/api-app';
import { TokenService } from '../auth/token-service';
import { demoRoutes } from '../api/demo/demo-routes';
import { DemoUpstream } from '../api/demo/demo-upstream';
import { ServiceBoot } from './boot';
import type { Component } from './run-service';

export interface TicksHttpServerOptions {
  config: TicksConfig;
  logger: Logger;
  codec: AvroCodec;
  /** Shares a process's metrics registry (the run command); a new one otherwise. */
  metrics?: PipelineMetrics;
  /** Serve the push gateway's WebSocket in the same server (default true). */
  gateway?: boolean;
  /** Serve the demo page and its upstream simulation (never in production). */
  demo?: boolean;
  /** Overrides config.api.port (0: any free port). */
  port?: number;
  /**
   * Where receipt details come from: Redis by default. The durable store plugs in here, e.g.
   * `(redis) => new FallbackReceiptDetails(redis, cassandraSource)`.
   */
  receiptDetails?: (redis: ReceiptDetailsSource) => ReceiptDetailsSource;
}

/**
 * One HTTP server for the query API, the reference push gateway (WebSocket at /v1/updates) and,
 * for `npm start`, the demo page (/demo/). The API can run without the gateway (gateway: false,
 * `npm run api -- --no-gateway`); the gateway has no process of its own: it is served here
 * (scripts/api.ts), each instance in its own consumer group, so any number of them can push.
 */
export class TicksHttpServer implements Component {
  readonly name = 'HTTP server';
  readonly metrics: PipelineMetrics;
  readonly tokens: TokenService;
  private app: FastifyInstance | undefined;
  private gatewayInstance: PushGateway | undefined;
  private producer: RecordProducer | undefined;
  private readonly boot: ServiceBoot;
  private address: AddressInfo | undefined;
  private demoUpstream: DemoUpstream | undefined;
  private settings: SettingsTable | undefined;
  private started = false;

  constructor(private readonly options: TicksHttpServerOptions) {
    const problem = devSecretProblem(options.config);
    if (problem) throw new ConfigError([problem]);
    if (options.demo && !options.config.auth.devMode)
      throw new Error(
        'the demo mints tokens for anyone: it runs only in dev mode (TICKS_DEV_MODE=true, as `npm start` sets it)',
      );
    this.metrics = options.metrics ?? new PipelineMetrics();
    this.tokens = TokenService.fromConfig(options.config.auth);
    this.boot = new ServiceBoot({
      config: options.config,
      logger: options.logger,
      codec: options.codec,
      clientSuffix: 'api',
    });
  }

  /** http://host:port of the running server. */
  get url(): string {
    if (!this.address) throw new Error('TicksHttpServer not started');
    const host =
      this.address.family === 'IPv6' ? `[${this.address.address}]` : this.address.address;
    return `http://${host}:${this.address.port}`;
  }

  get gateway(): PushGateway | undefined {
    return this.gatewayInstance;
  }

  get demo(): DemoUpstream | undefined {
    return this.demoUpstream;
  }

  /**
   * Liveness: the settings table's and the gateway's consumers have not crashed for good.
   * Readiness, besides: started, those consumers in their groups, the main Redis answering a
   * PING, Kafka answering through the bootstrap brokers.
   */
  health(): ProcessHealth {
    const settings = () => this.settings?.consumerStatus() ?? { state: 'stopped' as const };
    const gateway = () => this.gatewayInstance?.consumerStatus() ?? { state: 'stopped' as const };
    const withGateway = this.options.gateway ?? true;
    return processHealth({
      live: {
        settings_consumer: consumerAlive(settings),
        ...(withGateway ? { gateway_consumer: consumerAlive(gateway) } : {}),
      },
      ready: {
        started: () => {
          if (!this.started) throw new Error('not started');
        },
        settings_consumer: consumerRunning(settings),
        ...(withGateway ? { gateway_consumer: consumerRunning(gateway) } : {}),
        redis: () => {
          if (!this.started) throw new Error('not started');
          return this.boot.redis.ping();
        },
        kafka: cachedCheck(() => this.boot.kafka.probe(), 1000),
      },
    });
  }

  async start(): Promise<void> {
    const { config, logger, codec } = this.options;
    const { boot } = this;
    const { topics } = boot;
    await boot.start({ redis: 'main' });
    // Every POST produces one event: concurrent ones share a produce request (group commit).
    const producer = new CoalescingRecordProducer(await boot.kafka.producer(), {
      timeout: { ms: config.kafka.sendTimeoutMs, brokers: config.kafka.brokers },
    });
    this.producer = producer;
    const publisher = () => new EventPublisher(producer, codec, topics);
    const keys = new RedisKeys(config.redis.keyPrefix);
    const settings = await boot.startSettingsTable(`${config.kafka.groupId}-api`);
    this.settings = settings;

    const extensions: Array<(app: FastifyInstance) => Promise<void>> = [];
    if (this.options.gateway ?? true) {
      const gateway = new PushGateway({
        kafka: boot.kafka,
        codec,
        topic: topics.receiptUpdates,
        publisher,
        tokens: this.tokens,
        metrics: new GatewayMetrics(this.metrics.registry),
        logger,
        maxBufferedBytes: config.gateway.maxBufferedBytes,
        groupId: `${config.kafka.groupId}-gateway-${randomUUID()}`,
        presenceLeaseMs: config.offline.presenceLeaseMs,
        maxConnectionsPerUser: config.gateway.maxConnectionsPerUser,
      });
      await gateway.start();
      this.gatewayInstance = gateway;
      extensions.push((app) => gateway.routes(app));
    }
    if (this.options.demo) {
      const upstream = new DemoUpstream(publisher, Date.now().toString(36));
      await upstream.setUp();
      this.demoUpstream = upstream;
      extensions.push((app) => demoRoutes(app, { upstream, tokens: this.tokens }));
    }

    const redisDetails = new RedisReceiptDetails(boot.redis, keys);
    this.app = await buildApiApp({
      logger,
      tokens: this.tokens,
      publisher,
      readModel: new ReadModel(boot.redis, keys),
      receiptDetails: this.options.receiptDetails?.(redisDetails) ?? redisDetails,
      // Receipt details hide a read whose reader's setting is unknown rather than fail.
      sharesReads: (userId) => settings.knownToShareReads(userId),
      settings,
      maxBodyBytes: config.api.maxBodyBytes,
      maxDeliveredBatch: config.maxDeliveredBatch,
      rateLimitPerMinute: config.api.rateLimitPerMinute,
      websocket: this.gatewayInstance !== undefined,
      extensions,
      health: this.health(),
    });
    await this.app.listen({ port: this.options.port ?? config.api.port, host: config.api.host });
    this.address = this.app.server.address() as AddressInfo;
    this.started = true;
    logger.info({ url: this.url }, 'query API listening');
  }

  /** Idempotent: closes sockets (devices go OFFLINE), stops consuming, closes connections. */
  async stop(): Promise<void> {
    this.started = false;
    await this.gatewayInstance?.stop();
    this.gatewayInstance = undefined;
    await this.app?.close();
    this.app = undefined;
    await this.producer?.close();
    this.producer = undefined;
    await this.boot.stop();
    this.settings = undefined;
  }
}
