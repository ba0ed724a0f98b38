import type { ConversationEvent, StateChange } from '../../schemas/types';
import { branchOf } from '../../schemas/types';
import { MAX_EVENTS_PER_CALL, type MessageSentResult } from '../../stores/redis/conversation-store';
import type {
  BadgeChange,
  ConversationIndexChange,
  UserStore,
} from '../../stores/redis/user-store';
import type { ConversationState } from '../../stores/state/conversation-state';
import type { PipelineMetrics } from '../../runtime/metrics';
import type { Decoded, Processor, ProcessorContext } from '../../runtime/api';
import { conversationRuns, inInputOrder, type ConversationRun } from '../conversation-runs';
import { applyMemberChanges } from '../engine/members-changed';
import { applyMessagesSent } from '../engine/messages-sent';
import { applyMessagesDeleted, type MessageDeletedResult } from '../engine/messages-deleted';
import { peerOf } from '../engine/receipt-target';
import { replyImpliedUpdates, type ReplyImpliedUpdate } from '../engine/reply-implied';
import { expiryRefreshMs } from '../engine/refresh-core';
import { nextUpdateVersion } from '../engine/update-version';
import { windowCloseOf, type GroupWindowing } from '../notifier/group-windowing';
import { tellUnreadSyncs, type UnreadSyncFigures } from '../notifier/unread-syncs';
import type { HeldReceipts } from '../receipts/held-receipts';
import type { StateStep, StateSteps } from '../state-steps';
import type { BadgeUpdater } from '../unread/badge-updater';
import type { VisibleBadge } from '../unread/visible-badge';
import { toConversationCommand, type ConversationCommand } from './conversation-command';

export interface ConversationProcessorOptions {
  /** The partition-owned conversation states, written behind once per step. */
  steps: StateSteps;
  users: UserStore;
  badges: BadgeUpdater;
  held: HeldReceipts;
  metrics: PipelineMetrics;
  /**
   * Group windows that what sending read folds into (see applyMessagesSent); the emitter of the
   * direct updates a reply implies and of the unread syncs a deletion sends; who shares reads.
   */
  windowing: Pick<
    GroupWindowing,
    'windows' | 'windowMs' | 'windowGraceMs' | 'emitter' | 'sharesReads'
  >;
  /** The badge size a sync carries: muted conversations left out, as the unread API does. */
  visibleBadge: VisibleBadge;
}

interface Pending<C extends ConversationCommand = ConversationCommand> {
  event: ConversationEvent;
  sourceOffset: number;
  /** The input record's timestamp (an update's source time). */
  sourceAt: number;
  command: C;
}

/** A run of one kind, applied together: messages, member changes, or deletions. */
type Run =
  | {
      type: 'delete';
      conversationId: string;
      items: Array<Pending<Extract<ConversationCommand, { type: 'delete' }>>>;
    }
  | {
      type: 'message';
      conversationId: string;
      items: Array<Pending<Extract<ConversationCommand, { type: 'message' }>>>;
    }
  | {
      type: 'member';
      conversationId: string;
      items: Array<Pending<Extract<ConversationCommand, { type: 'member' }>>>;
    };

type Change = { event: ConversationEvent; sourceOffset: number; sourceAt: number } & (
  | {
      type: 'message';
      result: MessageSentResult;
      sender: string;
      /** A direct chat's peer hears what the reply read (null: nothing new). */
      told: ReplyImpliedUpdate | null;
    }
  | { type: 'member'; op: 'add' | 'remove'; userId: string; kind: string; hasHeld: boolean }
  | { type: 'delete'; result: MessageDeletedResult }
);

/**
 * Conversation state: members, the message index, the sender's own watermark (sending a message
 * means having read what came before it), the badge sources each message adds, and deletions
 * (a deleted message stops counting: the badge loses a source whose last unread it was).
 * Receipts held for a conversation are tried again when it changes.
 */
export class ConversationProcessor implements Processor<ConversationEvent> {
  readonly name = 'conversation';
  readonly source = 'conversationEvents' as const;

  constructor(private readonly options: ConversationProcessorOptions) {}

  async process(records: Decoded<ConversationEvent>[], ctx: ProcessorContext): Promise<void> {
    const { steps, metrics } = this.options;
    const pending: Pending[] = [];
    const partitionOf = new Map<string, number>();
    for (const { record, value: event } of records) {
      const checked = toConversationCommand(event, record.key);
      if (!('command' in checked)) {
        ctx.deadLetter(record, checked.reason, checked.detail);
        metrics.eventsIn.inc({
          topic: 'conversation_events',
          type: branchOf(event.payload),
          outcome: 'dead_lettered',
        });
        continue;
      }
      partitionOf.set(event.conversation_id, record.partition);
      pending.push({
        event,
        sourceOffset: Number(record.offset),
        sourceAt: record.timestamp,
        command: checked.command,
      });
    }

    // A conversation's consecutive events of one kind are applied together; an event of the
    // other kind starts another run, so the conversation's events apply in their order.
    const runs = conversationRuns(pending, {
      conversationOf: (p) => p.event.conversation_id,
      kindOf: (p) => p.command.type,
      maxPerRun: MAX_EVENTS_PER_CALL,
    });
    const step = steps.of(ctx);
    await steps.states.prefetch(
      ctx.partition,
      runs.map((run) => run.conversationId),
    );
    // Each conversation's latest message before the step: the users' indexes move once a step.
    const lastAtBefore = new Map(
      runs.map((run) => [run.conversationId, lastAtOf(steps.states.get(run.conversationId))]),
    );
    const replies = runs.map((run) => this.apply(typed(run), step));
    // One change per applied event, in record order.
    const changes = inInputOrder(runs, replies);

    const badge: BadgeChange[] = [];
    const index: ConversationIndexChange[] = [];
    const touched = new Set<string>();
    /** Conversations whose window sending opened or extended, at their earliest record's time. */
    const windowsOpen = new Map<string, number>();
    // Members whose unread count a deletion lowered: their devices get an unread sync.
    const recounts: UnreadSyncFigures[] = [];
    for (const change of changes) {
      const c = change.event.conversation_id;
      ctx.logChange({
        conversation_id: c,
        source_offset: change.sourceOffset,
        change: change.event.payload,
      } satisfies StateChange);
      if (change.type === 'message') {
        const { result, sender } = change;
        const direct = result.kind === 'DIRECT';
        for (const member of result.behind)
          badge.push({ op: 'add', userId: member, source: direct ? sender : c, kind: result.kind });
        if (result.senderCaughtUp) {
          const source = direct ? result.members.find((m) => m !== sender) : c;
          if (source) badge.push({ op: 'remove', userId: sender, source, kind: result.kind });
        }
        if (result.hasHeld) touched.add(c);
        if (result.windowOpen && !windowsOpen.has(c)) windowsOpen.set(c, change.sourceAt);
        if (change.told) {
          const { to, by, messageId, seq, status } = change.told;
          this.options.windowing.emitter.direct(
            ctx,
            to,
            { conversation_id: c, message_id: messageId, seq, status, by },
            nextUpdateVersion(steps.states.get(c), step),
            change.sourceAt,
          );
        }
        metrics.eventsIn.inc({
          topic: 'conversation_events',
          type: 'message_sent',
          outcome: 'applied',
        });
      } else if (change.type === 'delete') {
        const { result } = change;
        for (const member of result.caughtUp) {
          const source = result.kind === 'DIRECT' ? peerOf(result.members, member) : c;
          if (source) badge.push({ op: 'remove', userId: member, source, kind: result.kind });
        }
        for (const r of result.recounted)
          recounts.push({ conversationId: c, sourceAt: change.sourceAt, deviceId: null, ...r });
        // Receipts held for it (sent and deleted before they could apply) are refused now.
        if (result.hasHeld) touched.add(c);
        metrics.eventsIn.inc({
          topic: 'conversation_events',
          type: 'message_deleted',
          outcome: result.removed ? 'applied' : 'ignored',
        });
      } else {
        index.push(
          change.op === 'add'
            ? { op: 'add', userId: change.userId, conversationId: c, lastAt: this.lastAt(c) }
            : { op: 'remove', userId: change.userId, conversationId: c },
        );
        if (change.op === 'remove' && change.kind === 'GROUP')
          badge.push({ op: 'remove', userId: change.userId, source: c, kind: 'GROUP' });
        if (change.hasHeld) touched.add(c);
        metrics.eventsIn.inc({
          topic: 'conversation_events',
          type: `member_${change.op}`,
          outcome: 'applied',
        });
      }
    }

    for (const [conversationId, before] of lastAtBefore)
      index.push(...this.moves(conversationId, before, step.ttlSeconds));
    // The window index entries make the windows that sending folded into close.
    const { windowing } = this.options;
    const windows = [...windowsOpen].map(([conversationId, sourceAt]) => ({
      partition: partitionOf.get(conversationId)!,
      conversationId,
      at: windowCloseOf(sourceAt, ctx, windowing),
    }));
    // The users' lists and the window index go with the step's write-behind (after its
    // outputs, fenced, atomic with the state); the badges are written now. Nothing below reads
    // what they write (a receipt's badge change waits for them in the badge updater's order), so
    // the step goes on — the receipts after the messages are applied — while they are under way.
    this.options.users.queueConversationIndex(step.writes, index);
    const sideEffects = Promise.all([
      windowing.windows.schedule(windows, step.writes),
      this.options.badges.apply(
        badge,
        ctx,
        recounts.map((r) => r.userId),
      ),
    ]).then(([, stored]) =>
      // As after a read: no count or badge sticks until a refetch.
      tellUnreadSyncs(recounts, stored, ctx, {
        emitter: windowing.emitter,
        visibleBadge: this.options.visibleBadge,
        nextVersion: (conversationId) => nextUpdateVersion(steps.states.get(conversationId), step),
        step,
      }),
    );
    ctx.waitFor(sideEffects);
    // What a reply told its peer is decided: it goes out while the badge writes are under way.
    ctx.release();
    // A changed conversation may let its held receipts apply now.
    await this.options.held.retry(
      [...touched].map((conversationId) => ({
        conversationId,
        partition: partitionOf.get(conversationId)!,
      })),
      ctx,
    );
  }

  private lastAt(conversationId: string): number {
    return lastAtOf(this.options.steps.states.get(conversationId));
  }

  /**
   * A conversation whose latest message changed in the step moves in its members' indexes, once
   * (members who do not list it, having joined only by sending, are left out by the write). The
   * indexes' expiry is refreshed when the latest message enters another slice of TTL/24 — like a
   * conversation's core keys, an index then lives 23/24 of the TTL to all of it after the last
   * message of the user's conversations, at one EXPIRE per member per slice, not per message.
   */
  private moves(
    conversationId: string,
    before: number,
    ttlSeconds: number,
  ): ConversationIndexChange[] {
    const state = this.options.steps.states.get(conversationId);
    const lastAt = lastAtOf(state);
    if (lastAt === before) return [];
    const slice = expiryRefreshMs(ttlSeconds);
    const refreshExpiry = Math.floor(lastAt / slice) !== Math.floor(before / slice);
    return [...state.members].map((userId) => ({
      op: 'move',
      userId,
      conversationId,
      lastAt,
      refreshExpiry,
    }));
  }

  /** Applies a run to its conversation's state: one change per event. */
  private apply(run: Run, step: StateStep): Change[] {
    const state = this.options.steps.states.get(run.conversationId);
    step.touch(run.conversationId);
    if (run.type === 'message') {
      const results = applyMessagesSent(
        state,
        run.items.map((p) => p.command.message),
        step,
      );
      const told = replyImpliedUpdates(
        state,
        run.items.map(({ command: { message }, sourceOffset }) => ({
          ...message,
          version: sourceOffset,
          shareRead: this.options.windowing.sharesReads(message.senderId),
        })),
        step,
      );
      return results.map((result, i) => {
        const { event, sourceOffset, sourceAt, command } = run.items[i]!;
        return {
          type: 'message',
          event,
          sourceOffset,
          sourceAt,
          result,
          sender: command.message.senderId,
          told: told[i]!,
        };
      });
    }
    if (run.type === 'delete') {
      const results = applyMessagesDeleted(
        state,
        run.items.map((p) => p.command.deletion),
        step,
      );
      return results.map((result, i) => {
        const { event, sourceOffset, sourceAt } = run.items[i]!;
        return { type: 'delete', event, sourceOffset, sourceAt, result };
      });
    }
    // Member events change neither the kind nor the held receipts: one result for the run.
    const result = applyMemberChanges(
      state,
      run.items.map((p) => p.command.change),
      step,
    );
    return run.items.map(({ event, sourceOffset, sourceAt, command }) => ({
      type: 'member',
      event,
      sourceOffset,
      sourceAt,
      op: command.change.op,
      userId: command.change.userId,
      kind: result.kind,
      hasHeld: result.hasHeld,
    }));
  }
}

/** The time of a conversation's latest message (epoch ms; 0 while it has none). */
function lastAtOf(state: ConversationState): number {
  return Number(state.lastAt ?? 0);
}

/** conversationRuns keeps one kind per run (kindOf), so its first item's kind is the run's. */
function typed(run: ConversationRun<Pending>): Run {
  return {
    type: run.items[0]!.command.type,
    conversationId: run.conversationId,
    items: run.items,
  } as Run;
}
