import type { Client, types } from 'cassandra-driver';
import { PROFILE, toNumber } from './connect';

export interface ConversationRecord {
  conversationId: string;
  kind: string | null;
  lastSeq: number;
  lastMessageId: string | null;
  lastAt: number;
  activeAt: number;
}

export interface MemberRecord {
  userId: string;
  active: boolean;
  listed: boolean;
}

export interface WatermarkRecord {
  readSeq: number;
  readAt: number;
  deliveredSeq: number;
  deliveredAt: number;
}

export interface MessageRecord {
  seq: number;
  messageId: string;
  senderId: string;
  sentAt: number;
}

export interface MessageById {
  seq: number;
  senderId: string;
  sentAt: number;
  /** Deliveries reported by id: user → when. */
  deliveredById: Map<string, number>;
}

export interface Advance {
  seq: number;
  at: number;
}

export type AdvanceTable = 'read_advances' | 'delivered_advances';

/**
 * Every read of the durable state: the persister's join lookups, the rebuild, and the
 * receipt-details read-through. Prepared statements at the read consistency level; each query
 * names one partition, so token-aware routing sends it to a replica.
 */
export class DurableStateReader {
  constructor(
    private readonly client: Client,
    private readonly fetchSize = 1000,
  ) {}

  /** Every row, page after page (execute alone returns the first page only). */
  private async rows(query: string, params: unknown[]): Promise<types.Row[]> {
    const rows: types.Row[] = [];
    let pageState: string | undefined;
    do {
      const result = await this.client.execute(query, params, {
        prepare: true,
        fetchSize: this.fetchSize,
        pageState,
        executionProfile: PROFILE.read,
      });
      rows.push(...result.rows);
      pageState = result.pageState ?? undefined;
    } while (pageState);
    return rows;
  }

  private stream(query: string, params: unknown[]): AsyncIterable<types.Row> {
    return this.client.stream(query, params, {
      prepare: true,
      autoPage: true,
      fetchSize: this.fetchSize,
      executionProfile: PROFILE.read,
    }) as unknown as AsyncIterable<types.Row>;
  }

  /** Every conversation (a full scan, paged). */
  async *conversations(): AsyncIterable<ConversationRecord> {
    for await (const r of this.stream(
      'SELECT conversation_id, kind, last_seq, last_message_id, last_at, active_at FROM conversations',
      [],
    ))
      yield conversationOf(r);
  }

  async conversation(conversationId: string): Promise<ConversationRecord | undefined> {
    const [r] = await this.rows(
      'SELECT conversation_id, kind, last_seq, last_message_id, last_at, active_at FROM conversations WHERE conversation_id = ?',
      [conversationId],
    );
    return r ? conversationOf(r) : undefined;
  }

  async members(conversationId: string): Promise<MemberRecord[]> {
    const rows = await this.rows(
      'SELECT user_id, active, listed FROM members WHERE conversation_id = ?',
      [conversationId],
    );
    return rows.map((r) => ({
      userId: String(r['user_id']),
      active: r['active'] === true,
      listed: r['listed'] === true,
    }));
  }

  /** user → the conversation's last seq when they first joined. */
  async joins(conversationId: string): Promise<Map<string, number>> {
    const rows = await this.rows(
      'SELECT user_id, joined_seq FROM member_joins WHERE conversation_id = ?',
      [conversationId],
    );
    return new Map(rows.map((r) => [String(r['user_id']), toNumber(r['joined_seq'])]));
  }

  async watermarks(conversationId: string): Promise<Map<string, WatermarkRecord>> {
    const rows = await this.rows(
      'SELECT user_id, last_read_seq, last_read_at, last_delivered_seq, last_delivered_at FROM watermarks WHERE conversation_id = ?',
      [conversationId],
    );
    return new Map(rows.map((r) => [String(r['user_id']), watermarkOf(r)]));
  }

  /**
   * A member's effective watermarks as stored (the flushed watermarks, at least the join seq),
   * and whether their join is recorded; undefined when nothing is.
   */
  async knownWatermarks(
    conversationId: string,
    userId: string,
  ): Promise<{ readSeq: number; deliveredSeq: number; joined: boolean } | undefined> {
    const [w, j] = await Promise.all([
      this.rows(
        'SELECT last_read_seq, last_delivered_seq FROM watermarks WHERE conversation_id = ? AND user_id = ?',
        [conversationId, userId],
      ),
      this.rows('SELECT joined_seq FROM member_joins WHERE conversation_id = ? AND user_id = ?', [
        conversationId,
        userId,
      ]),
    ]);
    if (w.length === 0 && j.length === 0) return undefined;
    const joinedSeq = toNumber(j[0]?.['joined_seq']);
    const readSeq = Math.max(toNumber(w[0]?.['last_read_seq']), joinedSeq);
    return {
      readSeq,
      deliveredSeq: Math.max(toNumber(w[0]?.['last_delivered_seq']), readSeq),
      joined: j.length > 0,
    };
  }

  /**
   * The conversation's last seq as of changelog position `position` (runtime/changelog.ts): the
   * newest message written from an earlier change. Rows written from later changes (a crashed
   * attempt of the same batch) are skipped. With no message row at all (expired), the
   * conversation's last seq. (The column is named changelog_offset; it holds positions.)
   */
  async lastSeqBefore(conversationId: string, position: number): Promise<number> {
    let any = false;
    for await (const r of this.stream(
      'SELECT seq, changelog_offset FROM messages WHERE conversation_id = ?',
      [conversationId],
    )) {
      any = true;
      if (toNumber(r['changelog_offset']) < position) return toNumber(r['seq']);
    }
    if (any) return 0;
    return (await this.conversation(conversationId))?.lastSeq ?? 0;
  }

  /** The conversation's messages, newest first, paged as the caller iterates. */
  async *messagesNewestFirst(conversationId: string): AsyncIterable<MessageRecord> {
    for await (const r of this.stream(
      'SELECT seq, message_id, sender_id, sent_at FROM messages WHERE conversation_id = ?',
      [conversationId],
    ))
      yield messageOf(r);
  }

  /** Up to `limit` messages after `seq`, oldest first. */
  async messagesAfter(
    conversationId: string,
    seq: number,
    limit: number,
  ): Promise<MessageRecord[]> {
    const rows = await this.rows(
      'SELECT seq, message_id, sender_id, sent_at FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?',
      [conversationId, seq, limit],
    );
    return rows.map(messageOf);
  }

  async messageById(conversationId: string, messageId: string): Promise<MessageById | undefined> {
    const rows = await this.rows(
      'SELECT seq, sender_id, sent_at, user_id, status, at FROM message_receipts WHERE conversation_id = ? AND message_id = ?',
      [conversationId, messageId],
    );
    const first = rows[0];
    if (!first || first['seq'] === null) return undefined;
    const deliveredById = new Map<string, number>();
    for (const r of rows)
      if (r['user_id'] !== null && r['status'] === 'DELIVERED')
        deliveredById.set(String(r['user_id']), toNumber(r['at']));
    return {
      seq: toNumber(first['seq']),
      senderId: String(first['sender_id']),
      sentAt: toNumber(first['sent_at']),
      deliveredById,
    };
  }

  /** Whether the message was deleted (deleted_messages). */
  async isDeleted(conversationId: string, messageId: string): Promise<boolean> {
    const rows = await this.rows(
      'SELECT message_id FROM deleted_messages WHERE conversation_id = ? AND message_id = ?',
      [conversationId, messageId],
    );
    return rows.length > 0;
  }

  /** The conversation's deleted message ids. */
  async deletedMessages(conversationId: string): Promise<Set<string>> {
    const rows = await this.rows(
      'SELECT message_id FROM deleted_messages WHERE conversation_id = ?',
      [conversationId],
    );
    return new Set(rows.map((r) => String(r['message_id'])));
  }

  /** Members who marked the conversation unread and have not read it since: user → when. */
  async unreadMarks(conversationId: string): Promise<Map<string, number>> {
    const rows = await this.rows(
      'SELECT user_id, marked, at FROM unread_marks WHERE conversation_id = ?',
      [conversationId],
    );
    return new Map(
      rows
        .filter((r) => r['marked'] === true)
        .map((r) => [String(r['user_id']), toNumber(r['at'])]),
    );
  }

  /** The member's first advance at or above `seq` (earliest time for that seq), if any. */
  async firstAdvanceFrom(
    table: AdvanceTable,
    conversationId: string,
    userId: string,
    seq: number,
  ): Promise<Advance | undefined> {
    const [r] = await this.rows(
      `SELECT seq, at FROM ${table} WHERE conversation_id = ? AND user_id = ? AND seq >= ? ORDER BY seq ASC, at ASC LIMIT 1`,
      [conversationId, userId, seq],
    );
    return r ? { seq: toNumber(r['seq']), at: toNumber(r['at']) } : undefined;
  }

  /** Every advance at or above `seq`, oldest first, the earliest time per seq. */
  async advancesFrom(
    table: AdvanceTable,
    conversationId: string,
    userId: string,
    seq: number,
  ): Promise<Advance[]> {
    const out: Advance[] = [];
    for await (const r of this.stream(
      `SELECT seq, at FROM ${table} WHERE conversation_id = ? AND user_id = ? AND seq >= ? ORDER BY seq ASC, at ASC`,
      [conversationId, userId, seq],
    )) {
      const advance = { seq: toNumber(r['seq']), at: toNumber(r['at']) };
      if (out.length === 0 || out[out.length - 1]!.seq !== advance.seq) out.push(advance);
    }
    return out;
  }
}

function conversationOf(r: types.Row): ConversationRecord {
  return {
    conversationId: String(r['conversation_id']),
    kind: (r['kind'] as string | null) ?? null,
    lastSeq: toNumber(r['last_seq']),
    lastMessageId: (r['last_message_id'] as string | null) ?? null,
    lastAt: toNumber(r['last_at']),
    activeAt: toNumber(r['active_at']),
  };
}

function watermarkOf(r: types.Row): WatermarkRecord {
  return {
    readSeq: toNumber(r['last_read_seq']),
    readAt: toNumber(r['last_read_at']),
    deliveredSeq: toNumber(r['last_delivered_seq']),
    deliveredAt: toNumber(r['last_delivered_at']),
  };
}

function messageOf(r: types.Row): MessageRecord {
  return {
    seq: toNumber(r['seq']),
    messageId: String(r['message_id']),
    senderId: String(r['sender_id']),
    sentAt: toNumber(r['sent_at']),
  };
}
