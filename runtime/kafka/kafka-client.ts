import { Kafka, logLevel as KafkaLogLevel } from 'kafkajs';
import type { Logger } from 'pino';
import { KafkaUnavailableError } from './errors';
import { KafkaGroupConsumer } from './group-consumer';
import { pinoLogCreator } from './log-level';
import { KafkaRecordProducer, PRODUCER_ATTEMPT_RETRY } from './producer';
import { TopicAdmin } from './topic-admin';
import type { GroupConsumer, GroupConsumerOptions, RecordProducer, StreamClient } from './types';

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  logger?: Logger;
  /** How long connecting may take before giving up with KafkaUnavailableError. */
  connectTimeoutMs?: number;
  /**
   * How long a produce request may wait for Kafka's acknowledgement before it fails with
   * KafkaSendTimeoutError (TICKS_KAFKA_SEND_TIMEOUT_MS); DEFAULT_SEND_TIMEOUT_MS if absent.
   */
  sendTimeoutMs?: number;
}

/** TICKS_KAFKA_SEND_TIMEOUT_MS' default, for clients made without the configuration. */
export const DEFAULT_SEND_TIMEOUT_MS = 10_000;

/**
 * One service's connection to Kafka (one per service): it owns the kafkajs client and hands out
 * producers, group consumers and, for a scoped call, the topic admin.
 */
export class KafkaClient implements StreamClient {
  private readonly kafka: Kafka;
  /**
   * The same client for producers, with short retries of their connections (metadata,
   * connecting): a producer repeats its attempts until a send's deadline (producer.ts), and an
   * attempt given up at the deadline must not retry on in the background for long.
   */
  private readonly producerKafka: Kafka;
  /** The same client without retries, for probes: an answer, or a failure, at once. */
  private readonly probeKafka: Kafka;

  constructor(private readonly options: KafkaClientOptions) {
    const config = {
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: options.connectTimeoutMs ?? 3000,
      logLevel: KafkaLogLevel.WARN,
      logCreator: pinoLogCreator(options.logger),
    };
    this.kafka = new Kafka({
      ...config,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5000 },
    });
    this.producerKafka = new Kafka({ ...config, retry: PRODUCER_ATTEMPT_RETRY });
    this.probeKafka = new Kafka({ ...config, retry: { retries: 0 } });
  }

  /**
   * Whether Kafka answers through the configured bootstrap brokers (a new connection and its
   * API versions request, as any new client would need), for readiness probes: resolves, or
   * rejects with KafkaUnavailableError. Connections made for it are closed.
   */
  async probe(): Promise<void> {
    const admin = this.probeKafka.admin();
    try {
      await admin.connect();
    } catch (err) {
      throw new KafkaUnavailableError(this.options.brokers, err);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
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
    return KafkaRecordProducer.connect(
      this.producerKafka,
      this.options.brokers,
      this.options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
    );
  }

  groupConsumer(options: GroupConsumerOptions): GroupConsumer {
    return new KafkaGroupConsumer(this.kafka, options, this.options.brokers);
  }
}
