import type { ReceiptResult } from '../../stores/redis/conversation-store';
import type { RedisKeys } from '../../stores/redis/keys';
import type { PartitionIndex } from '../../stores/redis/partition-index';
import type { PipelineMetrics } from '../../runtime/metrics';
import type { ProcessorContext, Punctuator } from '../../runtime/api';
import type { StateSteps } from '../state-steps';
import { heldUserOf, parseHeld, serializeHeld } from './held-entry';
import type { ReceiptApplier } from './receipt-applier';
import type { ReceiptJob } from './receipt-job';
import { rejectionDetail } from './rejection-detail';

export interface HeldReceiptsOptions {
  keys: RedisKeys;
  /** Per partition, each conversation with held receipts at its earliest deadline. */
  index: PartitionIndex;
  applier: ReceiptApplier;
  /** The conversation states in memory (which hold the held receipts) and their write-behinds. */
  steps: StateSteps;
  metrics: PipelineMetrics;
  /** How long a receipt may wait for its message or membership (TICKS_PENDING_RECEIPT_WAIT_MS). */
  waitMs: number;
  /** Most receipts held for one conversation, and for one user in it; more are dead-lettered. */
  maxHeldPerConversation: number;
  maxHeldPerUser: number;
  punctuateIntervalMs: number;
}

/**
 * Receipts that cannot apply yet. Messages and receipts travel on different topics, so a read
 * may come before its message or the reader's membership; it is held in its conversation's
 * `held` sorted set (scored by its deadline) and tried again whenever the conversation changes,
 * and by this punctuator once its deadline passed on a quiet conversation. A held receipt that
 * still cannot apply by its deadline goes to the dead letters with its reason; one that names only
 * deleted messages goes there at once (MESSAGE_DELETED), held before or not.
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
   * The held entries are part of the conversation's state in memory and go to Redis with its
   * write-behind, after the step's outputs: a crash before that flush finds them as they were,
   * and the redo releases (and tells) them again.
   */
  async settle(jobs: ReceiptJob[], results: ReceiptResult[], ctx: ProcessorContext): Promise<void> {
    const { keys, metrics, steps } = this.options;
    const { states } = steps;
    await states.prefetch(
      ctx.partition,
      jobs.map((j) => j.conversationId),
    );
    const step = steps.of(ctx);
    const toHold: Array<{ partition: number; conversationId: string; at: number }> = [];
    results.forEach((result, i) => {
      const job = jobs[i]!;
      const state = states.get(job.conversationId);
      const held = () => {
        step.touch(job.conversationId);
        return step.writes.sortedSet(keys.conversationKey(job.conversationId, 'held'));
      };
      if (result.applied) {
        if (job.heldAs !== undefined && state.release(job.heldAs)) {
          held().remove(job.heldAs);
          metrics.heldReceipts.inc({ outcome: 'released' });
        }
      } else if (result.reason === 'MESSAGE_DELETED') {
        // Waiting cannot help: its message is gone for good. Held before, it leaves the set.
        if (job.heldAs !== undefined && state.release(job.heldAs)) {
          held().remove(job.heldAs);
          metrics.heldReceipts.inc({ outcome: 'deleted' });
        }
        ctx.deadLetter(job.record, result.reason, rejectionDetail(result.reason, job, 0));
        metrics.eventsIn.inc({
          topic: 'receipt_events',
          type: job.command.type,
          outcome: 'dead_lettered',
        });
      } else if (job.heldAs === undefined && ctx.now < job.deadline) {
        const entry = serializeHeld(job);
        if (state.held.has(entry)) {
          // Redelivered or replayed while held: one entry, with its first deadline.
          metrics.heldReceipts.inc({ outcome: 'duplicate' });
          return;
        }
        const full = this.refusal(state.held.keys(), job.userId);
        if (full) {
          // A cap, not a wait: whoever floods a conversation with early receipts fills only it.
          ctx.deadLetter(
            job.record,
            result.reason,
            `${full}; ${rejectionDetail(result.reason, job, this.options.waitMs)}`,
          );
          metrics.heldReceipts.inc({ outcome: 'refused' });
          metrics.eventsIn.inc({
            topic: 'receipt_events',
            type: job.command.type,
            outcome: 'dead_lettered',
          });
          return;
        }
        state.hold(entry, job.deadline); // the next message or member change retries it
        held().add(String(job.deadline), entry);
        toHold.push({
          partition: job.record.partition,
          conversationId: job.conversationId,
          at: job.deadline,
        });
        metrics.heldReceipts.inc({ outcome: 'held' });
      } else if (ctx.now >= job.deadline) {
        if (job.heldAs !== undefined && state.release(job.heldAs)) held().remove(job.heldAs);
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
    // A pointer to a deadline, written with the held entries it points at (the write-behind).
    await this.options.index.schedule(toHold, step.writes);
  }

  /** Why one more receipt of `userId` may not be held beside `held`; undefined when it may. */
  private refusal(held: Iterable<string>, userId: string): string | undefined {
    const { maxHeldPerConversation, maxHeldPerUser } = this.options;
    let all = 0;
    let theirs = 0;
    for (const entry of held) {
      all++;
      if (heldUserOf(entry) === userId) theirs++;
    }
    if (all >= maxHeldPerConversation)
      return `not held: the conversation already holds ${all} early receipts (TICKS_MAX_HELD_PER_CONVERSATION)`;
    if (theirs >= maxHeldPerUser)
      return `not held: ${userId} already has ${theirs} early receipts held in this conversation (TICKS_MAX_HELD_PER_USER)`;
    return undefined;
  }

  /** Tries again the receipts held for these conversations (after they changed). */
  async retry(
    conversations: Array<{ partition: number; conversationId: string }>,
    ctx: ProcessorContext,
  ): Promise<void> {
    if (conversations.length === 0) return;
    const { applier, steps } = this.options;
    const { states } = steps;
    const ids = conversations.map((c) => c.conversationId);
    await states.prefetch(ctx.partition, ids);
    const jobs = ids.flatMap((id) =>
      [...states.get(id).held].map(([entry, deadline]) => parseHeld(entry, deadline)),
    );
    if (jobs.length > 0) {
      const results = await applier.apply(jobs, ctx);
      // Independent writes, so in one round trip's time: the effects and the held entries.
      await Promise.all([
        applier.publishEffects(jobs, results, ctx),
        this.settle(jobs, results, ctx),
      ]);
    }
    // Pointing the partition index at each conversation's earliest remaining deadline may take a
    // pointer away: only once the held entries it points at are in Redis (after the step's flush,
    // whose hook steps.of registers first), and as the state is then (a later step may have held
    // more). A state no longer held (evicted) leaves its pointer as it is.
    steps.of(ctx);
    ctx.afterSend(() =>
      this.options.index.reschedule(conversations, (conversationId) =>
        states.peek(conversationId)?.earliestHeldDeadline(),
      ),
    );
  }

  /** Wall-clock expiry of held receipts whose deadline passed on a quiet conversation. */
  async punctuate(partitions: number[], ctx: ProcessorContext): Promise<void> {
    const due = await this.options.index.due(partitions, ctx.now);
    await this.retry(due, ctx);
  }
}
