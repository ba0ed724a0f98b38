import type { ConversationEvent, StateChange } from '../../schemas/types';
import { TypeName, branchOf } from '../../schemas/types';
import {
  MAX_EVENTS_PER_CALL,
  type ConversationStore,
  type MemberChange,
  type MessageSentResult,
  type SentMessage,
} from '../../stores/redis/conversation-store';
import { runQueued, type Queued } from '../../stores/redis/pipeline';
import type { BadgeChange, UserStore } from '../../stores/redis/user-store';
import type { PipelineMetrics } from '../../runtime/metrics';
import type { Decoded, Processor, ProcessorContext } from '../../runtime/api';
import type { BadgeUpdater } from '../unread/badge-updater';
import type { ReceiptProcessor } from '../receipts/receipt-processor';
import { firstProblem, idProblem, keyProblem, seqProblem } from '../validation';

export interface ConversationProcessorOptions {
  store: ConversationStore;
  users: UserStore;
  badges: BadgeUpdater;
  receipts: ReceiptProcessor;
  metrics: PipelineMetrics;
}

interface Pending {
  slot: number;
  event: ConversationEvent;
  sourceOffset: number;
}

/**
 * Consecutive events of one kind of a conversation, applied by one script call: messages, or
 * member changes.
 */
type Run =
  | { type: 'message'; items: Array<Pending & { message: SentMessage }> }
  | { type: 'member'; items: Array<Pending & { change: MemberChange }> };

type Change = { event: ConversationEvent; sourceOffset: number } & (
  | { type: 'message'; result: MessageSentResult; sender: string }
  | { type: 'member'; op: 'add' | 'remove'; userId: string; kind: string; hasHeld: boolean }
);

/**
 * Conversation state: members, the message index, the sender's own watermark (sending a message
 * means having read what came before it), and the badge sources each message adds. Receipts held
 * for a conversation are tried again when it changes.
 */
export class ConversationProcessor implements Processor<ConversationEvent> {
  readonly name = 'conversation';
  readonly source = 'conversationEvents' as const;

  constructor(private readonly o: ConversationProcessorOptions) {}

  async process(records: Decoded<ConversationEvent>[], ctx: ProcessorContext): Promise<void> {
    const { store, metrics } = this.o;
    // One change per applied event, in record order: the replies fill it in.
    const changes: Change[] = [];
    let applied = 0;
    const calls: Array<Queued<void>> = [];
    const partitionOf = new Map<string, number>();
    // Each conversation's events not sent yet: a run of one kind, applied by one script call.
    // An event of the other kind sends the run first, so the conversation's events still reach
    // Redis in their order; conversations are independent of each other.
    const runs = new Map<string, Run>();
    const flush = (conversationId: string): void => {
      const run = runs.get(conversationId);
      if (!run) return;
      runs.delete(conversationId);
      if (run.type === 'message') {
        const q = store.messagesSent(
          conversationId,
          run.items.map((r) => r.message),
        );
        calls.push({
          queue: q.queue,
          parse: (reply) =>
            q.parse(reply).forEach((result, i) => {
              const { slot, event, sourceOffset, message } = run.items[i]!;
              changes[slot] = {
                type: 'message',
                event,
                sourceOffset,
                result,
                sender: message.senderId,
              };
            }),
        });
      } else {
        const q = store.membersChanged(
          conversationId,
          run.items.map((r) => r.change),
        );
        calls.push({
          queue: q.queue,
          parse: (reply) => {
            const result = q.parse(reply);
            for (const { slot, event, sourceOffset, change } of run.items)
              changes[slot] = {
                type: 'member',
                event,
                sourceOffset,
                op: change.op,
                userId: change.userId,
                kind: result.kind,
                hasHeld: result.hasHeld,
              };
          },
        });
      }
    };
    const runOf = <T extends Run['type']>(c: string, type: T): Extract<Run, { type: T }> => {
      let run = runs.get(c);
      if (run && (run.type !== type || run.items.length === MAX_EVENTS_PER_CALL)) {
        flush(c);
        run = undefined;
      }
      if (!run) runs.set(c, (run = { type, items: [] } as Run));
      return run as Extract<Run, { type: T }>;
    };

    for (const { record, value: event } of records) {
      const problem = this.problem(event, record.key);
      const type = branchOf(event.payload);
      if (problem) {
        ctx.deadLetter(record, 'INVALID_FIELDS', problem);
        metrics.eventsIn.inc({ topic: 'conversation_events', type, outcome: 'dead_lettered' });
        continue;
      }
      const c = event.conversation_id;
      partitionOf.set(c, record.partition);
      const pending = { slot: applied++, event, sourceOffset: Number(record.offset) };
      const p = event.payload;
      if (TypeName.MessageSent in p) {
        const m = p[TypeName.MessageSent];
        runOf(c, 'message').items.push({
          ...pending,
          message: {
            messageId: m.message_id,
            seq: m.seq,
            senderId: m.sender_id,
            kind: m.kind,
            sentAt: m.sent_at,
          },
        });
      } else {
        const add = TypeName.MemberAdded in p;
        runOf(c, 'member').items.push({
          ...pending,
          change: add
            ? {
                op: 'add',
                userId: p[TypeName.MemberAdded].user_id,
                kind: p[TypeName.MemberAdded].kind,
              }
            : { op: 'remove', userId: p[TypeName.MemberRemoved].user_id, kind: 'GROUP' },
        });
      }
    }
    for (const c of [...runs.keys()]) flush(c);

    await runQueued(store.redis, calls);
    const badge: BadgeChange[] = [];
    const membership: Array<{ userId: string; conversationId: string; op: 'add' | 'remove' }> = [];
    const touched = new Set<string>();
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
        if (result.senderAtEnd) {
          const source = direct ? result.members.find((m) => m !== sender) : c;
          if (source) badge.push({ op: 'remove', userId: sender, source, kind: result.kind });
        }
        if (result.hasHeld) touched.add(c);
        metrics.eventsIn.inc({
          topic: 'conversation_events',
          type: 'message_sent',
          outcome: 'applied',
        });
      } else {
        membership.push({ userId: change.userId, conversationId: c, op: change.op });
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

    await Promise.all([this.o.users.recordMembership(membership), this.o.badges.apply(badge, ctx)]);
    await this.o.receipts.retryHeld(
      [...touched].map((conversationId) => ({
        conversationId,
        partition: partitionOf.get(conversationId)!,
      })),
      ctx,
    );
  }

  private problem(event: ConversationEvent, key: Buffer | null): string | null {
    const p = event.payload;
    const common = firstProblem(
      idProblem('conversation_id', event.conversation_id),
      keyProblem(key, event.conversation_id),
    );
    if (common) return common;
    if (TypeName.MessageSent in p) {
      const m = p[TypeName.MessageSent];
      return firstProblem(
        idProblem('message_id', m.message_id),
        idProblem('sender_id', m.sender_id),
        seqProblem('seq', m.seq),
      );
    }
    return idProblem(
      'user_id',
      TypeName.MemberAdded in p
        ? p[TypeName.MemberAdded].user_id
        : p[TypeName.MemberRemoved].user_id,
    );
  }
}
