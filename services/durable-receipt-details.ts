import type { Client } from 'cassandra-driver';
import type { TicksConfig } from '../config/config';
import { CassandraReceiptDetails } from '../stores/cassandra/cassandra-receipt-details';
import { connectCassandra } from '../stores/cassandra/connect';
import { DurableStateReader } from '../stores/cassandra/durable-state-reader';
import { ensureCassandraSchema } from '../stores/cassandra/ensure-schema';
import {
  FallbackReceiptDetails,
  type ReceiptDetailsSource,
} from '../stores/receipt-details-source';
import type { Component } from './run-service';

/**
 * The durable copy of receipt details, for messages whose Redis copy expired: migrates and
 * connects Cassandra at start, shuts it down at stop. Started before the HTTP server that reads
 * through it (TicksHttpServer's `receiptDetails: (redis) => durable.behind(redis)`).
 */
export class DurableReceiptDetails implements Component {
  readonly name = 'Cassandra (durable receipt details)';
  private client: Client | undefined;
  private source: CassandraReceiptDetails | undefined;

  constructor(private readonly config: TicksConfig) {}

  async start(): Promise<void> {
    await ensureCassandraSchema(this.config);
    this.client = await connectCassandra(this.config);
    this.source = new CassandraReceiptDetails(new DurableStateReader(this.client));
  }

  /** `redis` first, then Cassandra for what Redis no longer holds. */
  behind(redis: ReceiptDetailsSource): ReceiptDetailsSource {
    if (!this.source) throw new Error('DurableReceiptDetails not started');
    return new FallbackReceiptDetails(redis, this.source);
  }

  async stop(): Promise<void> {
    await this.client?.shutdown();
    this.client = this.source = undefined;
  }
}
