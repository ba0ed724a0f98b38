import type { FastifyInstance } from 'fastify';
import { TokenService } from '../../auth/token-service';
import type {
  ReceiptDetailsLookup,
  ReceiptDetailsQuery,
  ReceiptDetailsSource,
} from '../../stores/receipt-details-source';
import { capturedLogger } from '../../tests/support/captured-logger';
import { buildApiApp } from '../api-app';

/**
 * GET …/receipts sends an answer serialised once for as long as the source holds it (the same
 * object) and its readers' privacy is the same; a new answer, or a reader who stopped sharing
 * reads, is serialised anew. The source here is a held answer in memory (what
 * RedisReceiptDetails gives while the state is unchanged: stores/redis/receipt-details.test.ts).
 */
describe('receipt details as sent (API route)', () => {
  const tokens = new TokenService({
    secret: 's'.repeat(40),
    ttlSeconds: 600,
    maxLifetimeSeconds: 600,
  });
  const optedOut = new Set<string>();
  const answer = (boReadAt: number | null): ReceiptDetailsLookup => ({
    status: 'found',
    message: { seq: 1, senderId: 'ana', sentAt: 1_000 },
    recipients: [
      {
        userId: 'bo',
        read: boReadAt !== null,
        readAt: boReadAt,
        delivered: true,
        deliveredAt: 1_500,
      },
      { userId: 'cy', read: false, readAt: null, delivered: false, deliveredAt: null },
    ],
  });
  let held = answer(2_000);
  const asked: ReceiptDetailsQuery[] = [];
  const source: ReceiptDetailsSource = {
    name: 'held',
    lookup: async (query) => {
      asked.push(query);
      return held;
    },
  };
  let app: FastifyInstance;
  let base: string;
  const receipts = async () => {
    const response = await fetch(`${base}/v1/messages/grp/m1/receipts`, {
      headers: { authorization: `Bearer ${tokens.issue('ana', 'phone')}` },
    });
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    return (await response.json()) as { read: unknown[]; delivered: unknown[]; total: number };
  };

  beforeAll(async () => {
    app = await buildApiApp({
      logger: capturedLogger().logger,
      tokens,
      publisher: () => {
        throw new Error('not used');
      },
      readModel: {} as never,
      receiptDetails: source,
      sharesReads: (userId) => !optedOut.has(userId),
      settings: {} as never,
      maxBodyBytes: 4096,
      maxDeliveredBatch: 10,
      rateLimitPerMinute: 1000,
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('sends the held answer as the schema serialises it, again while nothing changed', async () => {
    const expected = {
      conversation_id: 'grp',
      message_id: 'm1',
      seq: 1,
      sender_id: 'ana',
      sent_at: 1_000,
      delivered: [{ user_id: 'bo', at: 1_500 }],
      read: [{ user_id: 'bo', at: 2_000 }],
      total: 2,
    };
    expect(await receipts()).toEqual(expected);
    expect(await receipts()).toEqual(expected);
  });

  it('a reader who stops sharing reads leaves read at once, though the answer is still held', async () => {
    expect((await receipts()).read).toEqual([{ user_id: 'bo', at: 2_000 }]);
    optedOut.add('bo');
    expect(await receipts()).toMatchObject({ read: [], delivered: [{ user_id: 'bo', at: 1_500 }] });
    optedOut.delete('bo');
    expect((await receipts()).read).toEqual([{ user_id: 'bo', at: 2_000 }]);
  });

  it("passes the client's seq to the source as a hint, and refuses one that is not a seq (422, as every invalid request)", async () => {
    const get = (query: string) =>
      fetch(`${base}/v1/messages/grp/m1/receipts${query}`, {
        headers: { authorization: `Bearer ${tokens.issue('ana', 'phone')}` },
      });
    asked.length = 0;
    expect((await get('?seq=7')).status).toBe(200);
    expect((await get('')).status).toBe(200);
    expect(asked).toEqual([
      { conversationId: 'grp', messageId: 'm1', viewer: 'ana', seq: 7 },
      { conversationId: 'grp', messageId: 'm1', viewer: 'ana', seq: undefined },
    ]);
    for (const bad of ['?seq=0', '?seq=-1', '?seq=x', '?seq=1.5'])
      expect({ bad, status: (await get(bad)).status }).toEqual({ bad, status: 422 });
    expect(asked).toHaveLength(2);
  });

  it('a new answer from the source is sent, not the one serialised before', async () => {
    expect((await receipts()).read).toEqual([{ user_id: 'bo', at: 2_000 }]);
    held = answer(null);
    expect((await receipts()).read).toEqual([]);
  });
});
