import type { Result } from 'ioredis';
import type { RedisClient } from './connect';
import type {
  ReceiptDetailsLookup,
  ReceiptDetailsQuery,
  ReceiptDetailsSource,
  RecipientReceipt,
} from '../receipt-details-source';
import type { RedisKeys } from './keys';
import { defineScripts } from './script-loader';

/**
 * Receipt details from the hot state: one Lua script (receipt-details-1.lua), one round trip,
 * one slot. Later messages are scanned (up to `maxLaterMessages`) to date the implicit read of a
 * member who replied; beyond that the read log alone dates the read.
 */
export class RedisReceiptDetails implements ReceiptDetailsSource {
  readonly name = 'redis';

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly maxLaterMessages = 500,
  ) {
    defineScripts(redis);
  }

  async lookup(query: ReceiptDetailsQuery): Promise<ReceiptDetailsLookup> {
    const reply = (await this.redis.receiptDetails(
      this.keys.conversation(query.conversationId),
      query.messageId,
      query.viewer,
      this.maxLaterMessages,
    )) as [string, ...unknown[]];
    const [status] = reply;
    if (
      status === 'no_conversation' ||
      status === 'not_member' ||
      status === 'no_message' ||
      status === 'deleted'
    )
      return { status };
    const [, seq, sender, sentAt, rows] = reply as [string, string, string, string, string[]];
    const recipients: RecipientReceipt[] = [];
    for (let i = 0; i < rows.length; i += 3) {
      const readAt = rows[i + 1]!;
      const deliveredAt = rows[i + 2]!;
      recipients.push({
        userId: rows[i]!,
        read: readAt !== '',
        readAt: time(readAt),
        delivered: deliveredAt !== '',
        deliveredAt: time(deliveredAt),
      });
    }
    recipients.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
    return {
      status: 'found',
      message: { seq: Number(seq), senderId: sender, sentAt: Number(sentAt) },
      recipients,
    };
  }
}

function time(value: string): number | null {
  return value === '' || value === '?' ? null : Number(value);
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    receiptDetails(...args: Array<string | number>): Result<unknown, Context>;
  }
}
