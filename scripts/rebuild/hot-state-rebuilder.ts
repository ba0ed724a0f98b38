import { eachLimit } from '../../stores/cassandra/bounded-executor';
import type {
  ConversationRecord,
  DurableStateReader,
  MessageRecord,
} from '../../stores/cassandra/durable-state-reader';
import type { HotStateRestorer, RestoredConversation } from '../../stores/redis/hot-state-restorer';
import { MessageSelection, badgeSources, effectiveWatermarks } from './conversation-rebuild';

/** What a rebuild cannot put back, because only Redis ever had it. */
export const NOT_REBUILT: readonly string[] = [
  'held receipts (reads/deliveries waiting for their message or membership): replay receipt_events from the loss time minus TICKS_PENDING_RECEIPT_WAIT_MS to hold them again',
  'open group windows: their summaries are not sent; the next receipt opens a new window',
  "direct-chat 'already notified' marks: a sender may get one repeated update (counts are absolute, it is harmless)",
  "the offline batcher's coalesced updates for users who were offline",
  'anything older than TICKS_DURABLE_TTL_SECONDS (90 days): messages, logs and receipt details that Cassandra expired',
  'conversations idle for longer than --active-within (Redis had expired them too; they come back on their next event)',
];

export interface RebuildOptions {
  /** Only conversations with a message or membership change this recently; null: all. */
  activeWithinMs: number | null;
  /** Messages sent this recently are restored even if everyone read them (the hot TTL). */
  recentMs: number;
  dryRun: boolean;
  /** Conversations rebuilt at once. */
  concurrency: number;
  now?: number;
}

export interface RebuildCounts {
  conversations: number;
  members: number;
  messages: number;
  readAdvances: number;
  deliveredAdvances: number;
  deliveredById: number;
  badgeSources: number;
  listEntries: number;
}

export interface RebuildSummary extends RebuildCounts {
  scanned: number;
  skippedIdle: number;
  dedupeMarksCleared: number;
}

export interface RebuildProgress {
  started(total: number): void;
  conversationDone(): void;
}

/**
 * Puts the hot state back into Redis from Cassandra after a Redis loss: per conversation its
 * kind and last message, members, watermarks, the messages unread by someone or recent (never a
 * deleted one), the read/delivered logs and deliveries by id of those messages, the deleted ids
 * and the mark-as-unread flags; per user the badge (derived from
 * unread counts) and the conversations by latest message. Clears the auxiliary dedupe marks first.
 */
export class HotStateRebuilder {
  constructor(
    private readonly reader: DurableStateReader,
    private readonly restorer: HotStateRestorer,
  ) {}

  async run(options: RebuildOptions, progress?: RebuildProgress): Promise<RebuildSummary> {
    const now = options.now ?? Date.now();
    const selected: ConversationRecord[] = [];
    let scanned = 0;
    for await (const c of this.reader.conversations()) {
      scanned++;
      if (options.activeWithinMs === null || c.activeAt >= now - options.activeWithinMs)
        selected.push(c);
    }
    progress?.started(selected.length);
    // Marks first: a mark left in place could contradict a restored badge, and be trusted.
    const dedupeMarksCleared = await this.restorer.clearDedupeMarks(options.dryRun);
    const totals: RebuildCounts = {
      conversations: 0,
      members: 0,
      messages: 0,
      readAdvances: 0,
      deliveredAdvances: 0,
      deliveredById: 0,
      badgeSources: 0,
      listEntries: 0,
    };
    await eachLimit(selected, options.concurrency, async (c) => {
      const counts = await this.rebuildOne(c, now - options.recentMs, options.dryRun);
      for (const k of Object.keys(totals) as Array<keyof RebuildCounts>) totals[k] += counts[k];
      progress?.conversationDone();
    });
    return { ...totals, scanned, skippedIdle: scanned - selected.length, dedupeMarksCleared };
  }

  private async rebuildOne(
    c: ConversationRecord,
    recentCutoff: number,
    dryRun: boolean,
  ): Promise<RebuildCounts> {
    const id = c.conversationId;
    const [members, joins, watermarks, deleted, marks] = await Promise.all([
      this.reader.members(id),
      this.reader.joins(id),
      this.reader.watermarks(id),
      this.reader.deletedMessages(id),
      this.reader.unreadMarks(id),
    ]);
    const { read, delivered } = effectiveWatermarks(members, joins, watermarks);
    const current = members.filter((m) => m.active).map((m) => m.userId);
    const selection = new MessageSelection(current, read, recentCutoff);
    const messages: MessageRecord[] = [];
    for await (const m of this.reader.messagesNewestFirst(id)) {
      if (!selection.keep(m)) break;
      if (!deleted.has(m.messageId)) messages.push(m); // a deleted message counts for nobody
    }

    const readLog: RestoredConversation['readLog'] = {};
    const deliveredLog: RestoredConversation['deliveredLog'] = {};
    const deliveredById: RestoredConversation['deliveredById'] = {};
    let deliveredByIdCount = 0;
    if (messages.length > 0) {
      const lowest = messages[messages.length - 1]!.seq;
      await eachLimit([...read.keys()], 16, async (u) => {
        const [r, d] = await Promise.all([
          this.reader.advancesFrom('read_advances', id, u, lowest),
          this.reader.advancesFrom('delivered_advances', id, u, lowest),
        ]);
        if (r.length > 0) readLog[u] = r;
        if (d.length > 0) deliveredLog[u] = d;
      });
      await eachLimit(messages, 16, async (m) => {
        const byId = await this.reader.messageById(id, m.messageId);
        if (!byId || byId.deliveredById.size === 0) return;
        deliveredById[m.messageId] = Object.fromEntries(byId.deliveredById);
        deliveredByIdCount += byId.deliveredById.size;
      });
    }

    const kind = c.kind ?? 'GROUP';
    const marked = current.filter((u) => marks.has(u));
    const badges = badgeSources(id, kind, current, read, messages, marked);
    const last =
      c.lastSeq > 0 && c.lastMessageId !== null
        ? { seq: c.lastSeq, messageId: c.lastMessageId, at: c.lastAt }
        : null;
    const lists = members
      .filter((m) => m.listed)
      .map((m) => ({ userId: m.userId, conversationId: id, lastAt: last?.at ?? 0 }));
    if (!dryRun) {
      await this.restorer.restoreConversations([
        {
          conversationId: id,
          kind,
          last,
          members: current,
          former: members.filter((m) => !m.active).map((m) => m.userId),
          read: Object.fromEntries(read),
          delivered: Object.fromEntries(delivered),
          messages,
          readLog,
          deliveredLog,
          deliveredById,
          deleted: [...deleted],
          marked: Object.fromEntries(marked.map((u) => [u, marks.get(u)!])),
        },
      ]);
      await this.restorer.restoreUsers(badges, lists);
    }
    return {
      conversations: 1,
      members: current.length,
      messages: messages.length,
      readAdvances: Object.values(readLog).reduce((n, l) => n + l.length, 0),
      deliveredAdvances: Object.values(deliveredLog).reduce((n, l) => n + l.length, 0),
      deliveredById: deliveredByIdCount,
      badgeSources: badges.length,
      listEntries: lists.length,
    };
  }
}
