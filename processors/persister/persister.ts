import type { Client } from 'cassandra-driver';
import type { Logger } from 'pino';
import type { TicksConfig } from '../../config/config';
import type { AvroCodec } from '../../schemas/avro-codec';
import { branchOf } from '../../schemas/types';
import { BoundedExecutor, eachLimit } from '../../stores/cassandra/bounded-executor';
import { DurableStateReader } from '../../stores/cassandra/durable-state-reader';
import { DurableStatements, type Statement } from '../../stores/cassandra/durable-statements';
import { changelogPosition } from '../../runtime/changelog';
import type { InboundBatch, RecordProducer } from '../../runtime/kafka/types';
import { deadLetterRecord, isReasoned, type DeadLetterRecord } from '../../runtime/api';
import type { TopicNames } from '../../runtime/topics';
import { lookupsFor, planBatch, type LoggedChange, type PlanContext } from './batch-plan';
import type { PersisterMetrics } from './persister-metrics';
import {
  WatermarkCoalescer,
  type CoalescedWatermark,
  type KnownWatermarks,
} from './watermark-coalescer';

export interface PersisterOptions {
  config: TicksConfig;
  logger: Logger;
  codec: AvroCodec;
  topics: TopicNames;
  metrics: PersisterMetrics;
  /** The connected Cassandra session it writes to and reads known watermarks from. */
  client: Client;
  /** Sends the dead letters of undecodable changelog records. */
  producer: RecordProducer;
}

/** How far a partition was written, and how to commit it. */
interface PartitionProgress {
  lastOffset: string;
  committed?: string;
  commit(lastOffset: string): Promise<void>;
  isStale(): boolean;
}

/**
 * Writes the state_changes changelog to Cassandra, off the hot path: its own consumer group
 * (TICKS_PERSISTER_GROUP_ID) with its own committed position, so it never slows the processors
 * and a crash loses nothing.
 *
 * Per batch: messages, members, deliveries by id and watermark advances are written at once
 * (bounded concurrency, retries with backoff); the latest watermark of each key is coalesced in
 * memory. Every TICKS_WATERMARK_FLUSH_INTERVAL_MS (a timer, so a quiet changelog is flushed
 * too) the coalesced watermarks are written — at most one write per key per interval, the
 * highest value — and only then are the offsets committed: a committed offset means every
 * record before it is in Cassandra. A crash re-reads from the last commit; every write is
 * idempotent, so re-reading changes nothing that matters.
 *
 * The batches come from a consumer of its service (services/persister-service.ts), which also
 * connects Cassandra and Kafka and stops them after close().
 */
export class Persister {
  readonly metrics: PersisterMetrics;
  private readonly topics: TopicNames;
  private readonly coalescer = new WatermarkCoalescer();
  private readonly statements: DurableStatements;
  private readonly progress = new Map<number, PartitionProgress>();
  private readonly executor: BoundedExecutor;
  private readonly reader: DurableStateReader;
  private readonly producer: RecordProducer;
  private timer: NodeJS.Timeout | undefined;
  private exclusive: Promise<unknown> = Promise.resolve();
  private lastFlush = Date.now();
  /** The latest batch's heartbeat: long writes keep the group membership alive with it. */
  private heartbeat: (() => Promise<void>) | undefined;
  private stopping = false;

  constructor(private readonly options: PersisterOptions) {
    const { config, logger } = options;
    this.metrics = options.metrics;
    this.topics = options.topics;
    this.producer = options.producer;
    this.statements = new DurableStatements(config.durableTtlSeconds);
    this.reader = new DurableStateReader(options.client);
    this.executor = new BoundedExecutor(options.client, {
      concurrency: config.persister.concurrency,
      maxRetries: config.persister.maxRetries,
      backoffMs: config.persister.retryBackoffMs,
      onRetry: (table, err, attempt) => {
        this.metrics.retries.inc({ table });
        logger.warn({ table, attempt, err: (err as Error).message }, 'Cassandra write retried');
      },
      onWritten: (table) => this.metrics.rowsWritten.inc({ table }),
    });
  }

  /** One changelog batch (the consumer's onBatch), after the batch or flush in progress. */
  handle(batch: InboundBatch): Promise<void> {
    return this.serially(() => this.handleBatch(batch));
  }

  /** Starts the flush timer: a quiet changelog's watermarks are written and committed too. */
  startFlushing(): void {
    const interval = this.options.config.watermarkFlushIntervalMs;
    this.timer = setInterval(
      () => {
        if (this.stopping) return;
        void this.serially(() => this.flushIfDue()).catch((err: unknown) =>
          this.options.logger.error({ err }, 'persister flush failed; retried on the next tick'),
        );
      },
      Math.min(1000, Math.max(100, Math.floor(interval / 4))),
    );
  }

  /**
   * Idempotent: takes no more batches, finishes the one in flight, flushes and commits. The
   * consumer is stopped after this.
   */
  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.serially(() => this.flushAndCommit()).catch((err: unknown) =>
      this.options.logger.error(
        { err },
        'final flush failed: the next owner re-reads from the last commit',
      ),
    );
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.exclusive.then(fn, fn);
    this.exclusive = run.catch(() => undefined);
    return run;
  }

  private async handleBatch(batch: InboundBatch): Promise<void> {
    if (this.stopping || batch.isStale() || batch.records.length === 0) return;
    const changes: LoggedChange[] = [];
    const dead: DeadLetterRecord[] = [];
    for (const record of batch.records) {
      if (record.value === null) {
        dead.push(
          deadLetterRecord(record, 'UNDECODABLE', 'changelog record has no value', Date.now()),
        );
        continue;
      }
      try {
        const { value } = await this.options.codec.decodeAs('stateChanges', record.value);
        value.changes.forEach((change, index) => {
          changes.push({ position: changelogPosition(Number(record.offset), index), change });
          this.metrics.changes.inc({ type: branchOf(change.change).replace('dev.ticks.', '') });
        });
      } catch (err) {
        if (!isReasoned(err)) throw err; // the registry is unreachable: the batch is retried
        dead.push(deadLetterRecord(record, err.reason, err.message, Date.now()));
      }
    }

    const stopTimer = this.metrics.writeDuration.startTimer({ phase: 'rows' });
    const plan = planBatch(changes, this.statements, await this.planContext(changes));
    this.heartbeat = batch.heartbeat;
    await this.whileHeartbeating(() => this.executor.run(plan.statements));
    stopTimer();
    if (dead.length > 0) await this.sendDeadLetters(dead);
    if (batch.isStale()) return; // the partition moved: its new owner re-reads and commits

    this.coalescer.absorb(plan.watermarks);
    this.metrics.watermarksCoalesced.inc(plan.watermarks.length);
    this.metrics.watermarksPending.set(this.coalescer.size);
    this.metrics.batches.inc();
    const last = batch.records[batch.records.length - 1]!;
    this.progress.set(batch.partition, {
      lastOffset: last.offset,
      committed: this.progress.get(batch.partition)?.committed,
      commit: batch.commit,
      isStale: batch.isStale,
    });
    this.metrics.lag.set(
      { partition: String(batch.partition) },
      Math.max(0, Number(batch.highWatermark) - Number(last.offset) - 1),
    );
    await batch.heartbeat();
    if (this.coalescer.size >= this.options.config.persister.maxPendingWatermarks)
      await this.flushAndCommit();
    else await this.flushIfDue();
  }

  /**
   * Looks up what the batch's plan needs from Cassandra: the watermarks of members this process
   * has not seen yet (so that an advance is logged only when it is one), and, for a member's
   * first join, the conversation's last seq as of the join (everything before reads as read).
   */
  private async planContext(changes: readonly LoggedChange[]): Promise<PlanContext> {
    const reader = this.reader;
    const inMemory = (c: string, u: string) => this.coalescer.known(c, u);
    const { keys, joins } = lookupsFor(changes, inMemory);
    const stored = new Map<string, (KnownWatermarks & { joined: boolean }) | undefined>();
    const keyOf = (c: string, u: string) => `${c}\u0000${u}`;
    await eachLimit(keys, this.options.config.persister.concurrency, async (k) => {
      stored.set(
        keyOf(k.conversationId, k.userId),
        await reader.knownWatermarks(k.conversationId, k.userId),
      );
    });
    const known = (c: string, u: string) => inMemory(c, u) ?? stored.get(keyOf(c, u));
    const joinSeqs = new Map<string, number>();
    await eachLimit(joins, this.options.config.persister.concurrency, async (j) => {
      const key = keyOf(j.conversationId, j.userId);
      const before = stored.get(key);
      if (before?.joined || (known(j.conversationId, j.userId)?.readSeq ?? 0) > 0) return;
      const lastSeq = await reader.lastSeqBefore(j.conversationId, j.changelogPosition);
      joinSeqs.set(key, Math.max(lastSeq, j.precedingSeq));
    });
    return { known, joinSeq: (c, u) => joinSeqs.get(keyOf(c, u)) };
  }

  /**
   * Runs a write that may take longer than the session timeout (a big batch, a big flush) while
   * heartbeating, so the group does not give our partitions away meanwhile.
   */
  private async whileHeartbeating<T>(write: () => Promise<T>): Promise<T> {
    const timer = setInterval(() => {
      void this.heartbeat?.().catch(() => undefined);
    }, 3000);
    try {
      return await write();
    } finally {
      clearInterval(timer);
    }
  }

  private async flushIfDue(): Promise<void> {
    if (Date.now() - this.lastFlush >= this.options.config.watermarkFlushIntervalMs)
      await this.flushAndCommit();
  }

  /** Writes the coalesced watermarks, then commits what is now entirely in Cassandra. */
  private async flushAndCommit(): Promise<void> {
    const entries = this.coalescer.drain();
    if (entries.length > 0) {
      const stopTimer = this.metrics.writeDuration.startTimer({ phase: 'watermarks' });
      try {
        await this.whileHeartbeating(() =>
          this.executor.run(entries.flatMap((e) => this.watermarkStatements(e))),
        );
      } catch (err) {
        this.coalescer.restore(entries);
        this.options.logger.error(
          { err },
          'watermark flush failed: nothing committed, retried later',
        );
        return;
      } finally {
        stopTimer();
      }
      this.coalescer.markFlushed(entries);
    }
    this.lastFlush = Date.now();
    this.metrics.watermarksPending.set(this.coalescer.size);
    for (const [partition, p] of this.progress) {
      if (p.committed === p.lastOffset) continue;
      if (p.isStale()) {
        this.progress.delete(partition);
        continue;
      }
      try {
        await p.commit(p.lastOffset);
        p.committed = p.lastOffset;
        this.metrics.commits.inc();
      } catch (err) {
        this.options.logger.warn(
          { err, partition },
          'offset commit failed; retried after the next flush',
        );
      }
    }
  }

  private watermarkStatements(e: CoalescedWatermark): Statement[] {
    const out: Statement[] = [];
    if (e.writeRead)
      out.push(this.statements.watermarkRead(e.conversationId, e.userId, e.readSeq, e.readAt));
    if (e.writeDelivered)
      out.push(
        this.statements.watermarkDelivered(
          e.conversationId,
          e.userId,
          e.deliveredSeq,
          e.deliveredAt,
        ),
      );
    return out;
  }

  private async sendDeadLetters(dead: DeadLetterRecord[]): Promise<void> {
    this.metrics.deadLetters.inc(dead.length);
    const records = await Promise.all(
      dead.map(async (d) => ({
        topic: this.topics.deadLetters,
        key: d.key,
        value: await this.options.codec.encode('deadLetters', d.value),
        headers: d.headers,
      })),
    );
    await this.producer.send(records);
    this.options.logger.error(
      { count: dead.length },
      'undecodable changelog records dead-lettered',
    );
  }
}
