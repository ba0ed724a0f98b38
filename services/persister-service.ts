import type { Client } from 'cassandra-driver';
import type { Logger } from 'pino';
import type { TicksConfig } from '../config/config';
import type { AvroCodec } from '../schemas/avro-codec';
import { connectCassandra } from '../stores/cassandra/connect';
import { ensureCassandraSchema } from '../stores/cassandra/ensure-schema';
import type { GroupConsumer, RecordProducer } from '../runtime/kafka/types';
import { Persister } from '../processors/persister/persister';
import { PersisterMetrics } from '../processors/persister/persister-metrics';
import { ServiceBoot } from './boot';
import type { Component } from './run-service';

export interface PersisterServiceOptions {
  config: TicksConfig;
  logger: Logger;
  codec: AvroCodec;
  /** Shares a process's metrics registry (the run command); a new one otherwise. */
  metrics?: PersisterMetrics;
  /** Overrides config.persister.groupId. */
  groupId?: string;
}

/**
 * The persister as a deployable: migrates and connects Cassandra, then feeds the state_changes
 * changelog to the Persister (processors/persister/) from its own consumer group
 * (TICKS_PERSISTER_GROUP_ID) with its own committed position, so it never slows the processors.
 */
export class PersisterService implements Component {
  readonly name = 'persister';
  readonly metrics: PersisterMetrics;
  private readonly boot: ServiceBoot;
  private persister: Persister | undefined;
  private client: Client | undefined;
  private consumer: GroupConsumer | undefined;
  private producer: RecordProducer | undefined;
  private assigned: number[] = [];
  private stopping = false;

  constructor(private readonly o: PersisterServiceOptions) {
    this.metrics = o.metrics ?? new PersisterMetrics();
    this.boot = new ServiceBoot({
      config: o.config,
      logger: o.logger,
      codec: o.codec,
      clientSuffix: 'persister',
    });
  }

  get groupId(): string {
    return this.o.groupId ?? this.o.config.persister.groupId;
  }

  /** The changelog partitions this process writes. */
  get partitions(): number[] {
    return this.assigned;
  }

  async start(): Promise<void> {
    const { config, codec, logger } = this.o;
    const { boot } = this;
    const { topics } = boot;
    await boot.start();
    const migrated = await ensureCassandraSchema(config);
    if (migrated.applied.length > 0)
      logger.info({ applied: migrated.applied }, 'Cassandra migrations applied');
    if (migrated.replicationWarning) logger.warn(migrated.replicationWarning);
    this.client = await connectCassandra(config);
    this.producer = await boot.kafka.producer();
    const persister = new Persister({
      config,
      logger,
      codec,
      topics,
      metrics: this.metrics,
      client: this.client,
      producer: this.producer,
    });
    this.persister = persister;
    this.consumer = boot.kafka.groupConsumer({
      groupId: this.groupId,
      topics: [topics.stateChanges],
      coPartitioned: false,
      fromBeginning: true,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      onBatch: (batch) => persister.handle(batch),
      onAssignment: (assignment) => {
        this.assigned = [...(assignment[topics.stateChanges] ?? [])];
        logger.info({ partitions: this.assigned }, 'persister partitions assigned');
      },
    });
    await this.consumer.start();
    persister.startFlushing();
    logger.info({ groupId: this.groupId, topic: topics.stateChanges }, 'persister started');
  }

  /** Idempotent: finishes the batch in flight, flushes, commits, leaves the group, disconnects. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.persister?.close();
    await this.consumer?.stop();
    await this.producer?.close();
    await this.client?.shutdown();
    this.consumer = this.producer = this.client = this.persister = undefined;
    await this.boot.stop();
  }
}
