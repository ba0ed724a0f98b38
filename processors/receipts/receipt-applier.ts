import {
  MAX_EVENTS_PER_CALL,
  type ReceiptInput,
  type ReceiptResult,
} from '../../stores/redis/conversation-store';
import { StateNotLoadedError } from '../../stores/state/conversation-state';
import type { BadgeChange } from '../../stores/redis/user-store';
import type { ProcessorContext } from '../../runtime/api';
import { conversationRuns, inInputOrder } from '../conversation-runs';
import { applyReceipts } from '../engine/apply-receipts';
import { deliveredByNeeded } from '../engine/delivered-by-needed';
import { nextUpdateVersion } from '../engine/update-version';
import { windowCloseOf, type GroupWindowing } from '../notifier/group-windowing';
import { decideUnreadSyncs, sendUnreadSyncs } from '../notifier/unread-syncs';
import type { BadgeUpdater } from '../unread/badge-updater';
import type { VisibleBadge } from '../unread/visible-badge';
import { receiptChange, unreadMarkChange } from './receipt-change';
import type { ReceiptJob } from './receipt-job';

/** The window side of receipts, and the badges they clear. */
export interface ReceiptApplierOptions extends GroupWindowing {
  badges: BadgeUpdater;
  /** The badge size a sync carries: muted conversations left out, as the unread API does. */
  visibleBadge: VisibleBadge;
}

type Applied = Extract<ReceiptResult, { applied: true }>;

/**
 * Applies receipts, fresh or held before, to the conversation state, and turns what they changed
 * into effects: the changelog, direct-chat updates at once, group receipts into windows, badges
 * cleared when nothing is left unread (joined when marked unread), the reader's other devices
 * synced. What
 * could not apply is not its business: HeldReceipts holds, releases and expires those.
 */
export class ReceiptApplier {
  constructor(private readonly options: ReceiptApplierOptions) {}

  /**
   * Applies the jobs to their conversations' states, each conversation's receipts in order, with
   * no Redis round trip when the states (and the delivered-by-id hashes the receipts look at) are
   * in memory; each job's result, in job order.
   */
  async apply(jobs: ReceiptJob[], ctx: ProcessorContext): Promise<ReceiptResult[]> {
    if (jobs.length === 0) return [];
    const { steps, sharesReads } = this.options;
    const runs = conversationRuns(jobs, {
      conversationOf: (job) => job.conversationId,
      maxPerRun: MAX_EVENTS_PER_CALL,
    });
    const step = steps.of(ctx);
    const inputs = runs.map((run) =>
      run.items.map((job): ReceiptInput => ({
        userId: job.userId,
        at: job.occurredAt,
        shareRead: sharesReads(job.userId),
        version: job.version,
        sourceAt: job.record.timestamp,
        command: job.command,
      })),
    );
    await steps.states.prefetch(
      ctx.partition,
      runs.map((run) => run.conversationId),
    );
    // Held in memory from now until this step's write lands (the loads below cannot evict them).
    for (const run of runs) step.touch(run.conversationId);
    // The delivered-by-id hashes the runs read, loaded with the states' first need known.
    const deliveredBy = new Map<string, string[]>();
    runs.forEach((run, i) => {
      const needed = deliveredByNeeded(steps.states.get(run.conversationId), inputs[i]!);
      if (needed.length > 0)
        deliveredBy.set(run.conversationId, [
          ...(deliveredBy.get(run.conversationId) ?? []),
          ...needed,
        ]);
    });
    if (deliveredBy.size > 0) await steps.states.prefetch(ctx.partition, [], deliveredBy);
    const replies: ReceiptResult[][] = [];
    for (const [i, run] of runs.entries()) {
      const state = steps.states.get(run.conversationId);
      for (;;) {
        try {
          replies.push(applyReceipts(state, inputs[i]!, step));
          break;
        } catch (err) {
          // An earlier run of the conversation made this one look at hashes not loaded yet; the
          // engine changes nothing before it throws.
          if (!(err instanceof StateNotLoadedError)) throw err;
          await steps.states.prefetch(
            ctx.partition,
            [],
            new Map([[run.conversationId, err.messageIds]]),
          );
        }
      }
    }
    return inInputOrder(runs, replies);
  }

  /**
   * The effects of the jobs that applied (`results` as apply returned them). Everything is
   * written before the step's outputs go out, and the dedupe marks before its offsets commit.
   */
  async publishEffects(
    jobs: ReceiptJob[],
    results: ReceiptResult[],
    ctx: ProcessorContext,
  ): Promise<void> {
    const { emitter, metrics } = this.options;
    const badge: BadgeChange[] = [];
    const syncs: Array<{ job: ReceiptJob; result: Applied }> = [];
    const windows: Array<{ partition: number; conversationId: string; at: number }> = [];

    const { steps } = this.options;
    const step = steps.of(ctx);
    // Taken as each update is sent, so that a conversation's versions rise in the order its
    // updates go out (a sync, sent after the step's direct updates, takes its version then: none
    // arrives below one sent before it). The state is held in memory until the step's write.
    const nextVersion = (job: ReceiptJob) =>
      nextUpdateVersion(steps.states.get(job.conversationId), step);
    results.forEach((result, i) => {
      if (!result.applied) return;
      const job = jobs[i]!;
      metrics.eventsIn.inc({ topic: 'receipt_events', type: job.command.type, outcome: 'applied' });
      if (result.changed) ctx.logChange(receiptChange(job, result));
      if (result.unreadMark) ctx.logChange(unreadMarkChange(job, result.unreadMark === 'set'));
      const isRead = job.command.type === 'read' || job.command.type === 'read_id';
      const source = result.kind === 'DIRECT' ? result.peer : job.conversationId;
      // Nothing left unread (read to the end, or what was after it deleted): the source goes.
      if (isRead && result.unread === 0 && source)
        badge.push({ op: 'remove', userId: job.userId, source, kind: result.kind });
      // Marked unread: the conversation joins the badge; the reader's devices hear, nobody else.
      if (result.unreadMark === 'set') {
        if (source) badge.push({ op: 'add', userId: job.userId, source, kind: result.kind });
        syncs.push({ job, result });
      }
      if (result.push && result.peer) {
        emitter.direct(
          ctx,
          result.peer,
          {
            conversation_id: job.conversationId,
            message_id: result.push.messageId,
            seq: result.push.seq,
            status: result.push.status,
            by: job.userId,
          },
          nextVersion(job),
          job.record.timestamp,
        );
      }
      // A backwards read changes nothing; any other read tells the reader's other devices.
      const backwards = job.command.type === 'read' && job.command.seq < result.oldRead;
      if (isRead && !backwards) syncs.push({ job, result });
      if (result.kind === 'GROUP' && result.windowOpen) {
        windows.push({
          partition: job.record.partition,
          conversationId: job.conversationId,
          at: windowCloseOf(job.record.timestamp, ctx, this.options),
        });
      }
    });

    // Independent of each other: the window index (an entry makes its window close; written
    // with the step's write-behind, as the window itself), badges and, after them in the same
    // round trip, the readers' badge sizes, which the syncs carry.
    const written = Promise.all([
      this.options.windows.schedule(windows, step.writes),
      this.options.badges.apply(
        badge,
        ctx,
        syncs.map((s) => s.job.userId),
      ),
    ]);
    // Which syncs go, and their marks, do not depend on the badge: decided now, so that one
    // write ahead covers them and the direct updates.
    const told = decideUnreadSyncs(
      syncs.map(({ job, result }) => ({
        userId: job.userId,
        conversationId: job.conversationId,
        unread: result.unread,
        readUpTo: result.newRead,
        deviceId: job.deviceId,
        sourceAt: job.record.timestamp,
      })),
      step,
    );
    // The direct updates are decided: they go out while the badges' round trips are under way
    // (the marks written ahead first), not after them and the rest of the step.
    ctx.release();
    const [, stored] = await written;
    // A reader with a conversation muted now sees a smaller badge (one more round trip for them).
    await sendUnreadSyncs(told, stored, ctx, {
      emitter,
      visibleBadge: this.options.visibleBadge,
      nextVersion: (conversationId) => nextUpdateVersion(steps.states.get(conversationId), step),
      step,
    });
  }
}
