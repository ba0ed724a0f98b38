import type {
  ReceiptDetailsLookup,
  ReceiptDetailsQuery,
  ReceiptDetailsSource,
  RecipientReceipt,
} from '../receipt-details-source';
import type { DurableStateReader } from './durable-state-reader';

/**
 * Receipt details from the durable store, for messages whose hot copy in Redis expired: the same
 * answer, computed the same way as stores/redis/lua/receipt-details-1.lua — "read by U at T" is
 * U's first read advance at or above the message's seq, or the first later message U sent,
 * whichever came first; delivered is the delivered watermark, a delivery by id, or the read,
 * whichever came first. A time is null when the event is known but its time is not (a member
 * who joined after the message). Kept 90 days (TICKS_DURABLE_TTL_SECONDS).
 */
export class CassandraReceiptDetails implements ReceiptDetailsSource {
  readonly name = 'cassandra';

  constructor(
    private readonly reader: DurableStateReader,
    private readonly maxLaterMessages = 500,
    private readonly concurrency = 32,
  ) {}

  async lookup(query: ReceiptDetailsQuery): Promise<ReceiptDetailsLookup> {
    const { conversationId: c, messageId } = query;
    const [members, message, deleted] = await Promise.all([
      this.reader.members(c),
      this.reader.messageById(c, messageId),
      this.reader.isDeleted(c, messageId),
    ]);
    const current = members.filter((m) => m.active);
    if (current.length === 0) return { status: 'no_conversation' };
    if (!current.some((m) => m.userId === query.viewer)) return { status: 'not_member' };
    if (deleted) return { status: 'deleted' };
    if (!message) return { status: 'no_message' };

    const { seq } = message;
    const [watermarks, joins, later] = await Promise.all([
      this.reader.watermarks(c),
      this.reader.joins(c),
      this.reader.messagesAfter(c, seq, this.maxLaterMessages),
    ]);
    const sentAfter = new Map<string, number>();
    for (const m of later) if (!sentAfter.has(m.senderId)) sentAfter.set(m.senderId, m.sentAt);

    const recipients = await mapLimit(
      current.filter((m) => m.userId !== message.senderId),
      this.concurrency,
      async ({ userId }): Promise<RecipientReceipt> => {
        const w = watermarks.get(userId);
        const joined = joins.get(userId) ?? 0;
        const readSeq = Math.max(w?.readSeq ?? 0, joined);
        const deliveredSeq = Math.max(w?.deliveredSeq ?? 0, joined, readSeq);
        const read = readSeq >= seq;
        const [readAdvance, deliveredAdvance] = await Promise.all([
          read ? this.reader.firstAdvanceFrom('read_advances', c, userId, seq) : undefined,
          deliveredSeq >= seq
            ? this.reader.firstAdvanceFrom('delivered_advances', c, userId, seq)
            : undefined,
        ]);
        const readAt = read ? earliest(readAdvance?.at, sentAfter.get(userId)) : undefined;
        const deliveredAt = earliest(
          earliest(readAt, message.deliveredById.get(userId)),
          deliveredAdvance?.at,
        );
        return {
          userId,
          read,
          readAt: readAt ?? null,
          delivered: deliveredAt !== undefined || read || deliveredSeq >= seq,
          deliveredAt: deliveredAt ?? null,
        };
      },
    );
    recipients.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
    return {
      status: 'found',
      message: { seq, senderId: message.senderId, sentAt: message.sentAt },
      recipients,
    };
  }
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
