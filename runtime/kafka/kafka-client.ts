import { Kafka, logLevel as KafkaLogLevel } from 'kafkajs';
import type { Logger } from 'pino';
import { KafkaUnavailableError } from './errors';
import { KafkaGroupConsumer } from './group-consumer';
import { pinoLogCreator } from './log-level';
import { KafkaRecordProducer } from './producer';
import { TopicAdmin } from './topic-admin';
import type { GroupConsumer, GroupConsumerOptions, RecordProducer, StreamClient } from './types';

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  logger?: Logger;
  /** How long connecting may take before giving up with KafkaUnavailableError. */
  connectTimeoutMs?: number;
}

/**
 * One service's connection to Kafka (one per service): it owns the kafkajs client and hands out
 * producers, group consumers and, for a scoped call, the topic admin.
 */
export class KafkaClient implements StreamClient {
  private readonly kafka: Kafka;

  constructor(private readonly options: KafkaClientOptions) {
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: options.connectTimeoutMs ?? 3000,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5000 },
      logLevel: KafkaLogLevel.WARN,
      logCreator: pinoLogCreator(options.logger),
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
    return KafkaRecordProducer.connect(this.kafka, this.options.brokers);
  }

  groupConsumer(options: GroupConsumerOptions): GroupConsumer {
    return new KafkaGroupConsumer(this.kafka, options, this.options.brokers);
  }
}
