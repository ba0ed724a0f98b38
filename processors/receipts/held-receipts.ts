import type { Redis } from 'ioredis';
import type { ReceiptResult } from '../../stores/redis/conversation-store';
import type { RedisKeys } from '../../stores/redis/keys';
import type { PartitionIndex } from '../../stores/redis/partition-index';
import { execPipeline } from '../../stores/redis/pipeline';
import type { ConversationStates } from '../../stores/state/conversation-states';
import type { PipelineMetrics } from '../../runtime/metrics';
import type { ProcessorContext, Punctuator } from '../../runtime/api';
import { parseHeld, serializeHeld } from './held-entry';
import type { ReceiptApplier } from './receipt-applier';
import type { ReceiptJob } from './receipt-job';
import { rejectionDetail } from './rejection-detail';

export interface HeldReceiptsOptions {
  redis: Redis;
  keys: RedisKeys;
  /** Per partition, each conversation with held receipts at its earliest deadline. */
  index: PartitionIndex;
  applier: ReceiptApplier;
  /** The conversation states in memory, whose "has held receipts" flag this keeps true. */
  states: ConversationStates;
  metrics: PipelineMetrics;
  /** How long a receipt may wait for its message or membership (TICKS_PENDING_RECEIPT_WAIT_MS). */
  waitMs: number;
  punctuateIntervalMs: number;
}

/**
 * Receipts that cannot apply yet. Messages and receipts travel on different topics, so a read
 * may come before its message or the reader's membership; it is held in its conversation's
 * `held` sorted set (scored by its deadline) and tried again whenever the conversation changes,
 * and by this punctuator once its deadline passed on a quiet conversation. A held receipt that
 * still cannot apply by its deadline goes to the dead letters with its reason.
 */
export class HeldReceipts implements Punctuator {
  readonly name = 'held-receipts';
  readonly intervalMs: number;

  constructor(private readonly options: HeldReceiptsOptions) {
    this.intervalMs = Math.max(options.punctuateIntervalMs, 250);
  }

  /**
   * When a receipt taken now gives up. From processing time, not event time: a replay of old
   * records must wait like the first run.
   */
  deadlineFrom(now: number): number {
    return now + this.options.waitMs;
  }

  /**
   * After `jobs` were tried (`results` as the applier returned them): holds the fresh ones that
   * could not apply, releases the held ones that did, dead-letters those whose deadline passed.
   */
  async settle(jobs: ReceiptJob[], results: ReceiptResult[], ctx: ProcessorContext): Promise<void> {
    const { redis, keys, metrics } = this.options;
    const pipe = redis.pipeline();
    const toHold: Array<{ partition: number; conversationId: string; at: number }> = [];
    results.forEach((result, i) => {
      const job = jobs[i]!;
      const heldKey = keys.conversationKey(job.conversationId, 'held');
      if (result.applied) {
        if (job.heldAs !== undefined) {
          pipe.zrem(heldKey, job.heldAs);
          metrics.heldReceipts.inc({ outcome: 'released' });
        }
      } else if (job.heldAs === undefined && ctx.now < job.deadline) {
        pipe.zadd(heldKey, job.deadline, serializeHeld(job, result.reason));
        const state = this.options.states.peek(job.conversationId);
        if (state) state.hasHeld = true; // the next message or member change retries it
        toHold.push({
          partition: job.record.partition,
          conversationId: job.conversationId,
          at: job.deadline,
        });
        metrics.heldReceipts.inc({ outcome: 'held' });
      } else if (ctx.now >= job.deadline) {
        if (job.heldAs !== undefined) pipe.zrem(heldKey, job.heldAs);
        ctx.deadLetter(
          job.record,
          result.reason,
          rejectionDetail(result.reason, job, this.options.waitMs),
        );
        metrics.heldReceipts.inc({ outcome: 'expired' });
        metrics.eventsIn.inc({
          topic: 'receipt_events',
          type: job.command.type,
          outcome: 'dead_lettered',
        });
      }
      // Otherwise it was held before and its deadline has not come: it stays as it is.
    });
    await execPipeline(pipe);
    await this.options.index.schedule(toHold);
  }

  /** Tries again the receipts held for these conversations (after they changed). */
  async retry(
    conversations: Array<{ partition: number; conversationId: string }>,
    ctx: ProcessorContext,
  ): Promise<void> {
    if (conversations.length === 0) return;
    const { redis, keys, applier } = this.options;
    const pipe = redis.pipeline();
    for (const c of conversations)
      pipe.zrange(keys.conversationKey(c.conversationId, 'held'), 0, '-1');
    const replies = (await execPipeline(pipe)) as string[][];
    const jobs = replies.flatMap((entries) => entries.map(parseHeld));
    if (jobs.length > 0) {
      const results = await applier.apply(jobs, ctx);
      // Independent writes, so in one round trip's time: the effects and the held entries.
      await Promise.all([
        applier.publishEffects(jobs, results, ctx),
        this.settle(jobs, results, ctx),
      ]);
    }
    // Point the partition index at each conversation's earliest remaining deadline.
    const next = redis.pipeline();
    for (const c of conversations)
      next.zrange(keys.conversationKey(c.conversationId, 'held'), 0, '0', 'WITHSCORES');
    const earliest = (await execPipeline(next)) as string[][];
    conversations.forEach((c, i) => {
      const state = this.options.states.peek(c.conversationId);
      if (state) state.hasHeld = earliest[i]!.length > 0;
    });
    await this.options.index.reschedule(
      conversations.map((c, i) => ({
        ...c,
        at: earliest[i]!.length > 0 ? Number(earliest[i]![1]) : null,
      })),
    );
  }

  /** Wall-clock expiry of held receipts whose deadline passed on a quiet conversation. */
  async punctuate(partitions: number[], ctx: ProcessorContext): Promise<void> {
    const due = await this.options.index.due(partitions, ctx.now);
    await this.retry(due, ctx);
  }
}
