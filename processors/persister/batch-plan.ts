import { TypeName, type StateChange } from '../../schemas/types';
import type {
  DurableStatements,
  MemberStateChange,
  Statement,
} from '../../stores/cassandra/durable-statements';
import type { KnownWatermarks, WatermarkObservation } from './watermark-coalescer';

/** A changelog record and where it sits in state_changes. */
export interface LoggedChange {
  /** Where the change sits in its state_changes partition: changelogPosition(offset, index). */
  position: number;
  change: StateChange;
}

/** A member's join that may be their first: its watermark needs the conversation's last seq then. */
export interface JoinCandidate {
  conversationId: string;
  userId: string;
  changelogPosition: number;
  /** Highest seq sent in the conversation earlier in this batch (0 if none). */
  precedingSeq: number;
}

/** What the plan needs to know beyond the batch, looked up before planning. */
export interface PlanContext {
  /** The member's watermarks before this batch (in memory, else in Cassandra), if any. */
  known(conversationId: string, userId: string): KnownWatermarks | undefined;
  /** The conversation's last seq as of this (first) join; undefined: not looked up. */
  joinSeq(conversationId: string, userId: string): number | undefined;
}

export interface BatchPlan {
  /** Rows to write now: messages, deliveries by id, watermark advances, members, conversations. */
  statements: Statement[];
  /** Watermarks to coalesce once the rows are written (they reach Cassandra at the next flush). */
  watermarks: WatermarkObservation[];
}

/**
 * The lookups a batch needs before it can be planned: the keys whose watermarks this process
 * does not know, and the joins that may be first joins (with the seqs sent before them in the
 * batch).
 */
export function lookupsFor(
  changes: readonly LoggedChange[],
  known: (conversationId: string, userId: string) => KnownWatermarks | undefined,
): { keys: Array<{ conversationId: string; userId: string }>; joins: JoinCandidate[] } {
  const keys = new Map<string, { conversationId: string; userId: string }>();
  const joins = new Map<string, JoinCandidate>();
  const precedingSeq = new Map<string, number>();
  for (const { position, change: sc } of changes) {
    const c = sc.conversation_id;
    const p = sc.change;
    let userId: string | undefined;
    if (TypeName.MessageSent in p) {
      const m = p[TypeName.MessageSent];
      precedingSeq.set(c, Math.max(precedingSeq.get(c) ?? 0, m.seq));
    } else if (TypeName.MemberAdded in p) {
      userId = p[TypeName.MemberAdded].user_id;
      const key = keyOf(c, userId);
      if (!joins.has(key) && (known(c, userId)?.readSeq ?? 0) === 0)
        joins.set(key, {
          conversationId: c,
          userId,
          changelogPosition: position,
          precedingSeq: precedingSeq.get(c) ?? 0,
        });
    } else if (TypeName.WatermarkAdvanced in p) userId = p[TypeName.WatermarkAdvanced].user_id;
    if (userId !== undefined && known(c, userId) === undefined)
      keys.set(keyOf(c, userId), { conversationId: c, userId });
  }
  return { keys: [...keys.values()], joins: [...joins.values()] };
}

interface ConversationRow {
  kind?: string;
  last?: { seq: number; messageId: string; at: number };
  activeAt?: number;
}

const keyOf = (conversationId: string, userId: string) => `${conversationId}\u0000${userId}`;

/**
 * Turns one consumed batch of the changelog into writes. Within the batch, rows with one key are
 * merged (the last member change wins, the highest seq is the conversation's last message), so
 * the writes can run concurrently in any order. An advance row is written only when the
 * watermark moved, as far as this process knows (`known`); when it does not know, both rows are
 * written — a repeated seq with a later time is harmless, readers take the earliest.
 */
export function planBatch(
  changes: readonly LoggedChange[],
  statements: DurableStatements,
  context: PlanContext,
): BatchPlan {
  const rows: Statement[] = [];
  const watermarks: WatermarkObservation[] = [];
  const conversations = new Map<string, ConversationRow>();
  const members = new Map<string, { conversationId: string; userId: string } & MemberStateChange>();
  const seen = new Map<string, KnownWatermarks>();
  const deliveredIds = new Set<string>();

  const conversation = (id: string): ConversationRow => {
    let row = conversations.get(id);
    if (!row) conversations.set(id, (row = {}));
    return row;
  };
  const member = (conversationId: string, userId: string, change: MemberStateChange) => {
    const key = keyOf(conversationId, userId);
    const row = members.get(key);
    members.set(key, row ? { ...row, ...change } : { conversationId, userId, ...change });
  };
  const lastKnown = (conversationId: string, userId: string) =>
    seen.get(keyOf(conversationId, userId)) ?? context.known(conversationId, userId);
  const remember = (
    conversationId: string,
    userId: string,
    readSeq: number,
    deliveredSeq: number,
  ) => {
    const prev = lastKnown(conversationId, userId);
    seen.set(keyOf(conversationId, userId), {
      readSeq: Math.max(readSeq, prev?.readSeq ?? 0),
      deliveredSeq: Math.max(deliveredSeq, prev?.deliveredSeq ?? 0),
    });
  };
  const observe = (o: WatermarkObservation) => {
    watermarks.push(o);
    remember(o.conversationId, o.userId, o.readSeq, o.deliveredSeq);
  };
  const active = (c: string, at: number) => {
    const row = conversation(c);
    row.activeAt = Math.max(row.activeAt ?? 0, at);
  };

  for (const { position, change: sc } of changes) {
    const c = sc.conversation_id;
    const p = sc.change;
    if (TypeName.MessageSent in p) {
      const m = p[TypeName.MessageSent];
      rows.push(
        ...statements.message(c, {
          seq: m.seq,
          messageId: m.message_id,
          senderId: m.sender_id,
          sentAt: m.sent_at,
          changelogPosition: position,
        }),
      );
      const row = conversation(c);
      row.kind ??= m.kind;
      if (!row.last || m.seq > row.last.seq)
        row.last = { seq: m.seq, messageId: m.message_id, at: m.sent_at };
      active(c, m.sent_at);
      // The messaging system is the authority on who sends: a sender is a member, and sending
      // moves the sender's own watermarks to the message (no advance row: readers date that
      // read by the message itself).
      member(c, m.sender_id, { active: true });
      observe({
        conversationId: c,
        userId: m.sender_id,
        readSeq: m.seq,
        deliveredSeq: m.seq,
        at: m.sent_at,
      });
    } else if (TypeName.MemberAdded in p) {
      const a = p[TypeName.MemberAdded];
      conversation(c).kind ??= a.kind;
      active(c, a.added_at);
      member(c, a.user_id, { active: true, listed: true, addedAt: a.added_at });
      // Redis gives a joining member the conversation's last seq as watermark only if they have
      // none yet (HSETNX); one who already sent, or joined before, keeps theirs. Conditional
      // (IF NOT EXISTS): a replayed join never moves it.
      const joined = context.joinSeq(c, a.user_id);
      if (joined !== undefined && (lastKnown(c, a.user_id)?.readSeq ?? 0) === 0) {
        rows.push(statements.memberJoin(c, a.user_id, joined, a.added_at));
        remember(c, a.user_id, joined, joined);
      }
    } else if (TypeName.MemberRemoved in p) {
      const r = p[TypeName.MemberRemoved];
      active(c, r.removed_at);
      member(c, r.user_id, { active: false, listed: false, removedAt: r.removed_at });
    } else if (TypeName.WatermarkAdvanced in p) {
      const w = p[TypeName.WatermarkAdvanced];
      const prev = lastKnown(c, w.user_id);
      const readMoved = prev === undefined || w.read_seq > prev.readSeq;
      const deliveredMoved = prev === undefined || w.delivered_seq > prev.deliveredSeq;
      // A read also moves the delivered watermark; like Redis, only the read is logged then.
      if (readMoved) rows.push(statements.readAdvance(c, w.user_id, w.read_seq, w.at));
      if (deliveredMoved && (prev === undefined || !readMoved))
        rows.push(statements.deliveredAdvance(c, w.user_id, w.delivered_seq, w.at));
      observe({
        conversationId: c,
        userId: w.user_id,
        readSeq: w.read_seq,
        deliveredSeq: w.delivered_seq,
        at: w.at,
      });
    } else if (TypeName.MessageDeleted in p) {
      const d = p[TypeName.MessageDeleted];
      rows.push(statements.messageDeleted(c, d.message_id, d.deleted_by, d.deleted_at));
    } else if (TypeName.UnreadMarked in p) {
      const u = p[TypeName.UnreadMarked];
      rows.push(
        statements.unreadMark(c, u.user_id, {
          marked: u.marked,
          at: u.at,
          changelogPosition: position,
        }),
      );
    } else {
      const d = p[TypeName.MessagesDelivered];
      for (const messageId of d.message_ids) {
        const key = `${keyOf(c, d.user_id)}\u0000${messageId}`;
        if (deliveredIds.has(key)) continue; // the first delivery counts
        deliveredIds.add(key);
        rows.push(statements.deliveredById(c, messageId, d.user_id, d.at));
      }
    }
  }

  for (const [c, row] of conversations) {
    if (row.kind !== undefined) rows.push(statements.conversationKind(c, row.kind));
    if (row.last) rows.push(statements.conversationLast(c, row.last));
    if (row.activeAt !== undefined) rows.push(statements.conversationActive(c, row.activeAt));
  }
  for (const { conversationId, userId, ...change } of members.values())
    rows.push(statements.memberState(conversationId, userId, change));
  return { statements: rows, watermarks };
}
