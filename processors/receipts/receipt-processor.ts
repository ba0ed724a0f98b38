import type { Redis } from 'ioredis';
import { TypeName, type ReceiptEvent, type StateChange } from '../../schemas/types';
import {
  MAX_EVENTS_PER_CALL,
  type ConversationStore,
  type ReceiptCommand,
  type ReceiptResult,
} from '../../stores/redis/conversation-store';
import type { RedisKeys } from '../../stores/redis/keys';
import type { PartitionIndex } from '../../stores/redis/partition-index';
import { execPipeline, runQueued } from '../../stores/redis/pipeline';
import type { BadgeChange } from '../../stores/redis/user-store';
import type { InboundRecord } from '../../runtime/kafka/kafka-client';
import type { PipelineMetrics } from '../../runtime/metrics';
import type { Decoded, Processor, ProcessorContext, Punctuator } from '../../runtime/api';
import type { UpdateEmitter } from '../notifier/update-emitter';
import type { BadgeUpdater } from '../unread/badge-updater';
import { toReceiptCommand } from './receipt-command';

/** A receipt ready to apply: fresh from the topic, or held earlier and tried again. */
interface ReceiptJob {
  conversationId: string;
  userId: string;
  deviceId: string;
  occurredAt: number;
  command: ReceiptCommand;
  /** Offset of the receipt record: the version of the updates it causes. */
  version: number;
  record: InboundRecord;
  /** When a held receipt gives up and goes to the dead letters. */
  deadline: number;
  /** The held entry (its exact member string) when this job was held before. */
  heldAs?: string;
}

export interface ReceiptProcessorOptions {
  redis: Redis;
  keys: RedisKeys;
  store: ConversationStore;
  badges: BadgeUpdater;
  windows: PartitionIndex;
  held: PartitionIndex;
  emitter: UpdateEmitter;
  metrics: PipelineMetrics;
  sharesReads(userId: string): boolean;
  maxDeliveredBatch: number;
  windowMs: number;
  windowGraceMs: number;
  heldWaitMs: number;
  punctuateIntervalMs: number;
}

/**
 * Applies delivered and read receipts: watermarks forward only, direct-chat updates at once,
 * group receipts into windows, the reader's other devices synced, badges cleared when the
 * conversation is read to its end. A receipt that cannot apply yet (its message or the reader's
 * membership has not arrived: they come on another topic) is held in Redis and tried again when
 * the conversation changes, up to a deadline; then it goes to the dead letters with its reason.
 */
export class ReceiptProcessor implements Processor<ReceiptEvent> {
  readonly name = 'receipts';
  readonly source = 'receiptEvents' as const;

  constructor(private readonly o: ReceiptProcessorOptions) {}

  async process(records: Decoded<ReceiptEvent>[], ctx: ProcessorContext): Promise<void> {
    const jobs: ReceiptJob[] = [];
    for (const { record, value } of records) {
      const checked = toReceiptCommand(value, record.key, this.o.maxDeliveredBatch);
      if (!('command' in checked)) {
        ctx.deadLetter(record, checked.reason, checked.detail);
        this.o.metrics.eventsIn.inc({
          topic: 'receipt_events',
          type: 'receipt',
          outcome: 'dead_lettered',
        });
        continue;
      }
      jobs.push({
        conversationId: value.conversation_id,
        userId: value.user_id,
        deviceId: value.device_id,
        occurredAt: value.occurred_at,
        command: checked.command,
        version: Number(record.offset),
        record,
        // From processing time, not event time: a replay of old records must wait like the first run.
        deadline: ctx.now + this.o.heldWaitMs,
      });
    }
    await this.apply(jobs, ctx);
  }

  /** Tries again the receipts held for these conversations (after they changed). */
  async retryHeld(
    conversations: Array<{ partition: number; conversationId: string }>,
    ctx: ProcessorContext,
  ): Promise<void> {
    if (conversations.length === 0) return;
    const pipe = this.o.redis.pipeline();
    for (const c of conversations)
      pipe.zrange(this.o.keys.conversationKey(c.conversationId, 'held'), 0, '-1');
    const replies = (await execPipeline(pipe)) as string[][];
    const jobs = replies.flatMap((entries) => entries.map(parseHeld));
    await this.apply(jobs, ctx);
    // Point the partition index at each conversation's earliest remaining deadline.
    const next = this.o.redis.pipeline();
    for (const c of conversations)
      next.zrange(this.o.keys.conversationKey(c.conversationId, 'held'), 0, '0', 'WITHSCORES');
    const earliest = (await execPipeline(next)) as string[][];
    await this.o.held.reschedule(
      conversations.map((c, i) => ({
        ...c,
        at: earliest[i]!.length > 0 ? Number(earliest[i]![1]) : null,
      })),
    );
  }

  /** Wall-clock expiry of held receipts whose deadline passed on a quiet conversation. */
  heldReceiptsPunctuator(): Punctuator {
    return {
      name: 'held-receipts',
      intervalMs: Math.max(this.o.punctuateIntervalMs, 250),
      punctuate: async (partitions, ctx) => {
        const due = await this.o.held.due(partitions, ctx.now);
        await this.retryHeld(due, ctx);
      },
    };
  }

  /** The changelog the persister writes to Cassandra: applied effects only. */
  private recordChange(
    ctx: ProcessorContext,
    job: ReceiptJob,
    result: Extract<ReceiptResult, { applied: true }>,
  ): void {
    const change: StateChange['change'] =
      job.command.type === 'dlv_ids'
        ? {
            [TypeName.MessagesDelivered]: {
              user_id: job.userId,
              message_ids: result.newlyDeliveredIds,
              at: job.occurredAt,
            },
          }
        : {
            [TypeName.WatermarkAdvanced]: {
              user_id: job.userId,
              read_seq: result.read,
              delivered_seq: result.delivered,
              at: job.occurredAt,
            },
          };
    ctx.logChange({
      conversation_id: job.conversationId,
      source_offset: job.version,
      change,
    });
  }

  private async apply(jobs: ReceiptJob[], ctx: ProcessorContext): Promise<void> {
    if (jobs.length === 0) return;
    const { store, metrics } = this.o;
    // One script call per conversation (per MAX_EVENTS_PER_CALL of its receipts), its receipts
    // in order; results back in job order.
    const runs: Array<[conversationId: string, indexes: number[]]> = [];
    const open = new Map<string, number[]>();
    jobs.forEach((job, i) => {
      let run = open.get(job.conversationId);
      if (!run || run.length === MAX_EVENTS_PER_CALL) {
        open.set(job.conversationId, (run = []));
        runs.push([job.conversationId, run]);
      }
      run.push(i);
    });
    const replies = await runQueued(
      store.redis,
      runs.map(([conversationId, indexes]) =>
        store.applyReceipts(
          conversationId,
          indexes.map((i) => {
            const job = jobs[i]!;
            return {
              userId: job.userId,
              at: job.occurredAt,
              shareRead: this.o.sharesReads(job.userId),
              version: job.version,
              sourceAt: job.record.timestamp,
              command: job.command,
            };
          }),
        ),
      ),
    );
    const results: ReceiptResult[] = new Array(jobs.length);
    runs.forEach(([, indexes], r) =>
      indexes.forEach((jobIndex, k) => (results[jobIndex] = replies[r]![k]!)),
    );

    const heldPipe = this.o.redis.pipeline();
    const toHold: Array<{ partition: number; conversationId: string; at: number }> = [];
    const badge: BadgeChange[] = [];
    const syncs: Array<{ job: ReceiptJob; result: Extract<ReceiptResult, { applied: true }> }> = [];
    const windows: Array<{ partition: number; conversationId: string; at: number }> = [];

    results.forEach((result, i) => {
      const job = jobs[i]!;
      const heldKey = this.o.keys.conversationKey(job.conversationId, 'held');
      if (!result.applied) {
        if (job.heldAs === undefined && ctx.now < job.deadline) {
          heldPipe.zadd(heldKey, job.deadline, serializeHeld(job, result.reason));
          toHold.push({
            partition: job.record.partition,
            conversationId: job.conversationId,
            at: job.deadline,
          });
          metrics.heldReceipts.inc({ outcome: 'held' });
        } else if (ctx.now >= job.deadline) {
          if (job.heldAs !== undefined) heldPipe.zrem(heldKey, job.heldAs);
          ctx.deadLetter(
            job.record,
            result.reason,
            rejectionDetail(result.reason, job, this.o.heldWaitMs),
          );
          metrics.heldReceipts.inc({ outcome: 'expired' });
          metrics.eventsIn.inc({
            topic: 'receipt_events',
            type: job.command.type,
            outcome: 'dead_lettered',
          });
        }
        return;
      }
      if (job.heldAs !== undefined) {
        heldPipe.zrem(heldKey, job.heldAs);
        metrics.heldReceipts.inc({ outcome: 'released' });
      }
      metrics.eventsIn.inc({ topic: 'receipt_events', type: job.command.type, outcome: 'applied' });
      if (result.changed) this.recordChange(ctx, job, result);
      const isRead = job.command.type === 'read' || job.command.type === 'read_id';
      if (isRead && result.atEnd) {
        const source = result.kind === 'DIRECT' ? result.peer : job.conversationId;
        if (source) badge.push({ op: 'remove', userId: job.userId, source, kind: result.kind });
      }
      if (result.push && result.peer) {
        this.o.emitter.direct(
          ctx,
          result.peer,
          {
            conversation_id: job.conversationId,
            message_id: result.push.messageId,
            seq: result.push.seq,
            status: result.push.status,
            by: job.userId,
          },
          job.version,
          job.record.timestamp,
        );
      }
      // A backwards read changes nothing; any other read tells the reader's other devices.
      const backwards = job.command.type === 'read' && job.command.seq < result.oldRead;
      if (isRead && !backwards) syncs.push({ job, result });
      if (result.kind === 'GROUP' && result.windowOpen) {
        const windowEnd = (Math.floor(ctx.now / this.o.windowMs) + 1) * this.o.windowMs;
        windows.push({
          partition: job.record.partition,
          conversationId: job.conversationId,
          at: windowEnd + this.o.windowGraceMs,
        });
      }
    });

    // Independent of each other, so in one round trip's time: held receipts and their index,
    // the window index (the windows themselves are written; an index entry makes them close),
    // badges and, after them in the same round trip, the readers' badge sizes. Everything is
    // done before the step's outputs go out, and the dedupe marks before its offsets commit.
    const [, , counts] = await Promise.all([
      execPipeline(heldPipe).then(() => this.o.held.schedule(toHold)),
      this.o.windows.schedule(windows),
      this.o.badges.apply(
        badge,
        ctx,
        syncs.map((s) => s.job.userId),
      ),
    ]);
    for (const { job, result } of syncs) {
      this.o.emitter.unreadSync(
        ctx,
        job.userId,
        {
          conversation_id: job.conversationId,
          unread_count: result.unread,
          badge_count: counts.get(job.userId) ?? 0,
          read_up_to_seq: result.newRead,
          origin_device_id: job.deviceId,
        },
        job.version,
        job.record.timestamp,
      );
    }
  }
}

function rejectionDetail(reason: string, job: ReceiptJob, waitMs: number): string {
  const what =
    job.command.type === 'read' || job.command.type === 'dlv_seq'
      ? `seq ${job.command.seq}`
      : job.command.type === 'read_id'
        ? `message ${job.command.messageId}`
        : `messages ${job.command.messageIds.join(',')}`;
  const why =
    reason === 'NOT_A_MEMBER'
      ? `${job.userId} is not a member of ${job.conversationId}`
      : reason === 'SEQ_NOT_REACHED'
        ? `${job.conversationId} has not reached ${what}`
        : `${what} unknown in ${job.conversationId}`;
  return `${why} after waiting ${waitMs} ms; nothing was marked`;
}

/** Held entries keep the original record, so an expired one dead-letters with its own bytes. */
function serializeHeld(job: ReceiptJob, reason: string): string {
  const r = job.record;
  return JSON.stringify({
    c: job.conversationId,
    u: job.userId,
    d: job.deviceId,
    at: job.occurredAt,
    cmd: job.command,
    dl: job.deadline,
    why: reason,
    t: r.topic,
    p: r.partition,
    o: r.offset,
    ts: r.timestamp,
    k: r.key?.toString('base64') ?? null,
    v: r.value?.toString('base64') ?? null,
  });
}

function parseHeld(entry: string): ReceiptJob {
  const h = JSON.parse(entry) as {
    c: string;
    u: string;
    d: string;
    at: number;
    cmd: ReceiptCommand;
    dl: number;
    t: string;
    p: number;
    o: string;
    ts: number;
    k: string | null;
    v: string | null;
  };
  return {
    conversationId: h.c,
    userId: h.u,
    deviceId: h.d,
    occurredAt: h.at,
    command: h.cmd,
    version: Number(h.o),
    deadline: h.dl,
    heldAs: entry,
    record: {
      topic: h.t,
      partition: h.p,
      offset: h.o,
      timestamp: h.ts,
      key: h.k === null ? null : Buffer.from(h.k, 'base64'),
      value: h.v === null ? null : Buffer.from(h.v, 'base64'),
    },
  };
}
