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
import { HeldAnswers } from './held-answers';

type Found = Extract<ReceiptDetailsLookup, { status: 'found' }>;

/**
 * Receipt details from the hot state: one Lua script (receipt-details-1.lua), one round trip,
 * one slot. Later messages are scanned (up to `maxLaterMessages`) to date the implicit read of a
 * member who replied; beyond that the read log alone dates the read.
 *
 * The last answers are kept with the fingerprint of the state they were computed from (members,
 * watermarks, deliveries by id, last seq, message and deletion counts): the script reads that
 * state on every call and answers 'same' when it has not changed, skipping the per-member log
 * reads. An answer is never staler than the state read in its round trip (a log that expired
 * since leaves its member's time as it was, where a new answer would say '?'). Bounded by
 * recipients held; the least recently used leave first.
 */
export class RedisReceiptDetails implements ReceiptDetailsSource {
  readonly name = 'redis';
  private readonly answers: HeldAnswers<string, { fingerprint: string; found: Found }>;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly maxLaterMessages = 500,
    maxHeldRecipients = 200_000,
  ) {
    defineScripts(redis);
    this.answers = new HeldAnswers(maxHeldRecipients, (held) =>
      Math.max(1, held.found.recipients.length),
    );
  }

  async lookup(query: ReceiptDetailsQuery): Promise<ReceiptDetailsLookup> {
    const id = `${query.conversationId}\u0000${query.messageId}`;
    const held = this.answers.get(id);
    const reply = (await this.redis.receiptDetails(
      this.keys.conversation(query.conversationId),
      query.messageId,
      query.viewer,
      this.maxLaterMessages,
      held?.fingerprint ?? '',
      // A message keeps its seq: the held answer's (else the client's) finds its index entry
      // without a search; the script checks the entry there is this message's.
      held?.found.message.seq ?? query.seq ?? '',
    )) as [string, ...unknown[]];
    const [status] = reply;
    if (status === 'same' && held) return held.found;
    if (held) this.answers.delete(id);
    if (
      status === 'no_conversation' ||
      status === 'not_member' ||
      status === 'no_message' ||
      status === 'deleted'
    )
      return { status };
    const [, seq, sender, sentAt, rows, fingerprint] = reply as [
      string,
      string,
      string,
      string,
      string[],
      string,
    ];
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
    const found: Found = {
      status: 'found',
      message: { seq: Number(seq), senderId: sender, sentAt: Number(sentAt) },
      recipients,
    };
    this.answers.set(id, { fingerprint, found });
    return found;
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
