import { randomUUID } from 'node:crypto';
import {
  TypeName,
  type ConversationEvent,
  type ConversationKind,
  type ConversationMute,
  type ReceiptEvent,
  type UserSettings,
} from '../schemas/types';
import type { OutboundRecord, RecordProducer } from './kafka/types';
import type { RecordCodec } from './api/record-codec';
import type { TopicNames, TopicRole } from './topics';

/**
 * Produces ticks' input events the way upstream systems do: Avro in Confluent wire format, keyed
 * by conversation_id (user_id for settings). Events are queued and sent together by flush(), so
 * a load generator sends whole batches. Used by the traffic generator, the API, backfill, tests.
 */
export class EventPublisher {
  private queued: Array<{ role: TopicRole; key: string; value: unknown } | OutboundRecord> = [];

  constructor(
    private readonly producer: RecordProducer,
    private readonly codec: RecordCodec,
    private readonly topics: TopicNames,
  ) {}

  get pending(): number {
    return this.queued.length;
  }

  messageSent(
    conversationId: string,
    m: {
      messageId: string;
      seq: number;
      senderId: string;
      kind: ConversationKind;
      sentAt?: number;
    },
  ): this {
    const at = m.sentAt ?? Date.now();
    return this.conversation(conversationId, at, {
      [TypeName.MessageSent]: {
        message_id: m.messageId,
        seq: m.seq,
        sender_id: m.senderId,
        kind: m.kind,
        sent_at: at,
      },
    });
  }

  memberAdded(
    conversationId: string,
    userId: string,
    kind: ConversationKind,
    at = Date.now(),
  ): this {
    return this.conversation(conversationId, at, {
      [TypeName.MemberAdded]: { user_id: userId, kind, added_at: at },
    });
  }

  memberRemoved(conversationId: string, userId: string, at = Date.now()): this {
    return this.conversation(conversationId, at, {
      [TypeName.MemberRemoved]: { user_id: userId, removed_at: at },
    });
  }

  messageDeleted(
    conversationId: string,
    messageId: string,
    deletedBy: string,
    at = Date.now(),
  ): this {
    return this.conversation(conversationId, at, {
      [TypeName.MessageDeleted]: { message_id: messageId, deleted_by: deletedBy, deleted_at: at },
    });
  }

  markUnread(conversationId: string, userId: string, deviceId = 'device-1', at = Date.now()): this {
    return this.receipt(conversationId, userId, deviceId, at, { [TypeName.MarkedUnread]: {} });
  }

  read(
    conversationId: string,
    userId: string,
    upTo: { seq: number } | { messageId: string },
    deviceId = 'device-1',
    at = Date.now(),
  ): this {
    return this.receipt(conversationId, userId, deviceId, at, {
      [TypeName.ReadUpTo]:
        'seq' in upTo
          ? { seq: upTo.seq, message_id: null }
          : { seq: null, message_id: upTo.messageId },
    });
  }

  delivered(
    conversationId: string,
    userId: string,
    what: { upToSeq: number } | { messageIds: string[] },
    deviceId = 'device-1',
    at = Date.now(),
  ): this {
    return this.receipt(conversationId, userId, deviceId, at, {
      [TypeName.Delivered]:
        'upToSeq' in what
          ? { up_to_seq: what.upToSeq, message_ids: null }
          : { up_to_seq: null, message_ids: what.messageIds },
    });
  }

  /** The user's whole settings record (compacted: it replaces the previous one). */
  settings(
    userId: string,
    readReceiptsEnabled: boolean,
    at = Date.now(),
    mutes: ConversationMute[] = [],
    version = at,
  ): this {
    const value: UserSettings = {
      user_id: userId,
      read_receipts_enabled: readReceiptsEnabled,
      updated_at: at,
      version,
      muted_conversations: mutes,
    };
    this.queued.push({ role: 'userSettings', key: userId, value });
    return this;
  }

  /** Any value for any topic role, encoded with the topic's schema. */
  encoded(role: TopicRole, key: string, value: unknown): this {
    this.queued.push({ role, key, value });
    return this;
  }

  /** Bytes as they are, for tests and tools that replay what they read. */
  raw(role: TopicRole, key: string | Buffer | null, value: Buffer | null): this {
    this.queued.push({ topic: this.topics[role], key, value });
    return this;
  }

  /**
   * Sends everything queued. A failed send drops it, unless `keepOnFailure`: then it is queued
   * again, ahead of what was queued since, for a later flush to send (some of it may have been
   * written: the next flush can repeat records, as any producer's retry can).
   */
  async flush(options: { keepOnFailure?: boolean } = {}): Promise<number> {
    const batch = this.queued;
    this.queued = [];
    try {
      return await this.send(batch);
    } catch (err) {
      if (options.keepOnFailure) this.queued = [...batch, ...this.queued];
      throw err;
    }
  }

  private async send(batch: EventPublisher['queued']): Promise<number> {
    const records = await Promise.all(
      batch.map(async (q): Promise<OutboundRecord> =>
        'role' in q
          ? {
              topic: this.topics[q.role],
              key: q.key,
              value: await this.codec.encode(q.role, q.value as never),
            }
          : q,
      ),
    );
    await this.producer.send(records);
    return records.length;
  }

  private conversation(
    conversationId: string,
    at: number,
    payload: ConversationEvent['payload'],
  ): this {
    const value: ConversationEvent = {
      event_id: randomUUID(),
      conversation_id: conversationId,
      occurred_at: at,
      payload,
    };
    this.queued.push({ role: 'conversationEvents', key: conversationId, value });
    return this;
  }

  private receipt(
    conversationId: string,
    userId: string,
    deviceId: string,
    at: number,
    payload: ReceiptEvent['payload'],
  ): this {
    const value: ReceiptEvent = {
      event_id: randomUUID(),
      conversation_id: conversationId,
      user_id: userId,
      device_id: deviceId,
      occurred_at: at,
      payload,
    };
    this.queued.push({ role: 'receiptEvents', key: conversationId, value });
    return this;
  }
}
