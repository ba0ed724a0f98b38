/** The tables the persister writes (labels of its metrics). */
export type DurableTable =
  | 'conversations'
  | 'members'
  | 'member_joins'
  | 'watermarks'
  | 'messages'
  | 'message_receipts'
  | 'read_advances'
  | 'delivered_advances'
  | 'deleted_messages'
  | 'unread_marks';

/** One CQL write, ready for the bounded executor. */
export interface Statement {
  table: DurableTable;
  query: string;
  params: unknown[];
  /** A lightweight transaction (IF NOT EXISTS): not applied is an answer, not an error. */
  conditional?: boolean;
}

export interface MemberStateChange {
  active: boolean;
  /** In the user's conversation list (MemberAdded / MemberRemoved set it, sending does not). */
  listed?: boolean;
  addedAt?: number;
  removedAt?: number;
}

const Q = {
  message:
    'INSERT INTO messages (conversation_id, seq, message_id, sender_id, sent_at, changelog_offset) VALUES (?, ?, ?, ?, ?, ?) USING TTL ?',
  messageById:
    'INSERT INTO message_receipts (conversation_id, message_id, seq, sender_id, sent_at) VALUES (?, ?, ?, ?, ?) USING TTL ?',
  deliveredById:
    "INSERT INTO message_receipts (conversation_id, message_id, user_id, status, at) VALUES (?, ?, ?, 'DELIVERED', ?) USING TTL ?",
  readAdvance:
    'INSERT INTO read_advances (conversation_id, user_id, seq, at) VALUES (?, ?, ?, ?) USING TTL ?',
  deliveredAdvance:
    'INSERT INTO delivered_advances (conversation_id, user_id, seq, at) VALUES (?, ?, ?, ?) USING TTL ?',
  conversationKind: 'UPDATE conversations SET kind = ? WHERE conversation_id = ?',
  conversationLast:
    'UPDATE conversations USING TIMESTAMP ? SET last_seq = ?, last_message_id = ?, last_at = ? WHERE conversation_id = ?',
  conversationActive:
    'UPDATE conversations USING TIMESTAMP ? SET active_at = ? WHERE conversation_id = ?',
  memberJoin:
    'INSERT INTO member_joins (conversation_id, user_id, joined_seq, joined_at) VALUES (?, ?, ?, ?) IF NOT EXISTS',
  watermarkRead:
    'UPDATE watermarks USING TIMESTAMP ? SET last_read_seq = ?, last_read_at = ? WHERE conversation_id = ? AND user_id = ?',
  watermarkDelivered:
    'UPDATE watermarks USING TIMESTAMP ? SET last_delivered_seq = ?, last_delivered_at = ? WHERE conversation_id = ? AND user_id = ?',
  messageDeleted:
    'INSERT INTO deleted_messages (conversation_id, message_id, deleted_by, deleted_at) VALUES (?, ?, ?, ?) USING TTL ?',
  unreadMark:
    'UPDATE unread_marks USING TIMESTAMP ? SET marked = ?, at = ? WHERE conversation_id = ? AND user_id = ?',
} as const;

/**
 * Builds the persister's writes; see migrations/002-durable-state.cql for why each table is as
 * it is. History rows carry the durable TTL; monotonic state cells carry their value as the
 * write timestamp (max wins whatever the order the writes land in).
 */
export class DurableStatements {
  constructor(private readonly ttlSeconds: number) {}

  /** A message in the conversation's index and, by id, as the static part of its receipts. */
  message(
    conversationId: string,
    m: {
      seq: number;
      messageId: string;
      senderId: string;
      sentAt: number;
      changelogPosition: number;
    },
  ): Statement[] {
    const sentAt = new Date(m.sentAt);
    return [
      {
        table: 'messages',
        query: Q.message,
        params: [
          conversationId,
          m.seq,
          m.messageId,
          m.senderId,
          sentAt,
          m.changelogPosition,
          this.ttlSeconds,
        ],
      },
      {
        table: 'message_receipts',
        query: Q.messageById,
        params: [conversationId, m.messageId, m.seq, m.senderId, sentAt, this.ttlSeconds],
      },
    ];
  }

  deliveredById(conversationId: string, messageId: string, userId: string, at: number): Statement {
    return {
      table: 'message_receipts',
      query: Q.deliveredById,
      params: [conversationId, messageId, userId, new Date(at), this.ttlSeconds],
    };
  }

  readAdvance(conversationId: string, userId: string, seq: number, at: number): Statement {
    return {
      table: 'read_advances',
      query: Q.readAdvance,
      params: [conversationId, userId, seq, new Date(at), this.ttlSeconds],
    };
  }

  deliveredAdvance(conversationId: string, userId: string, seq: number, at: number): Statement {
    return {
      table: 'delivered_advances',
      query: Q.deliveredAdvance,
      params: [conversationId, userId, seq, new Date(at), this.ttlSeconds],
    };
  }

  conversationKind(conversationId: string, kind: string): Statement {
    return { table: 'conversations', query: Q.conversationKind, params: [kind, conversationId] };
  }

  conversationLast(
    conversationId: string,
    last: { seq: number; messageId: string; at: number },
  ): Statement {
    return {
      table: 'conversations',
      query: Q.conversationLast,
      params: [last.seq, last.seq, last.messageId, new Date(last.at), conversationId],
    };
  }

  conversationActive(conversationId: string, at: number): Statement {
    return {
      table: 'conversations',
      query: Q.conversationActive,
      params: [at, new Date(at), conversationId],
    };
  }

  memberState(conversationId: string, userId: string, change: MemberStateChange): Statement {
    const sets = ['active = ?'];
    const params: unknown[] = [change.active];
    if (change.listed !== undefined) {
      sets.push('listed = ?');
      params.push(change.listed);
    }
    if (change.addedAt !== undefined) {
      sets.push('added_at = ?');
      params.push(new Date(change.addedAt));
    }
    if (change.removedAt !== undefined) {
      sets.push('removed_at = ?');
      params.push(new Date(change.removedAt));
    }
    return {
      table: 'members',
      query: `UPDATE members SET ${sets.join(', ')} WHERE conversation_id = ? AND user_id = ?`,
      params: [...params, conversationId, userId],
    };
  }

  memberJoin(conversationId: string, userId: string, joinedSeq: number, at: number): Statement {
    return {
      table: 'member_joins',
      query: Q.memberJoin,
      params: [conversationId, userId, joinedSeq, new Date(at)],
      conditional: true,
    };
  }

  messageDeleted(
    conversationId: string,
    messageId: string,
    deletedBy: string,
    deletedAt: number,
  ): Statement {
    return {
      table: 'deleted_messages',
      query: Q.messageDeleted,
      params: [conversationId, messageId, deletedBy, new Date(deletedAt), this.ttlSeconds],
    };
  }

  /** The flag as of changelog position `position` (the write timestamp: the latest wins). */
  unreadMark(
    conversationId: string,
    userId: string,
    mark: { marked: boolean; at: number; changelogPosition: number },
  ): Statement {
    return {
      table: 'unread_marks',
      query: Q.unreadMark,
      params: [mark.changelogPosition, mark.marked, new Date(mark.at), conversationId, userId],
    };
  }

  watermarkRead(conversationId: string, userId: string, seq: number, at: number): Statement {
    return {
      table: 'watermarks',
      query: Q.watermarkRead,
      params: [seq, seq, new Date(at), conversationId, userId],
    };
  }

  watermarkDelivered(conversationId: string, userId: string, seq: number, at: number): Statement {
    return {
      table: 'watermarks',
      query: Q.watermarkDelivered,
      params: [seq, seq, new Date(at), conversationId, userId],
    };
  }
}
