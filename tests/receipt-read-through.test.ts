import { TicksHttpServer } from '../services/ticks-http-server';
import { CassandraReceiptDetails } from '../stores/cassandra/cassandra-receipt-details';
import { RedisReceiptDetails } from '../stores/redis/receipt-details';
import {
  FallbackReceiptDetails,
  type ReceiptDetailsLookup,
  type ReceiptDetailsQuery,
} from '../stores/receipt-details-source';
import { apiClient } from './support/api-client';
import {
  caughtUp,
  createHarness,
  eventually,
  persisterCaughtUp,
  type Harness,
} from './support/harness';
import { startApiServer } from './support/api-server';

/**
 * Issue 4: receipt details of a message whose Redis copy expired come from Cassandra, with the
 * same answer. The hot TTL is shortened to seconds so that the expiry happens within the test.
 */
describe('receipt details read through to Cassandra', () => {
  let h: Harness;
  let server: TicksHttpServer;
  const t0 = Date.now() - 60_000;
  const queries: ReceiptDetailsQuery[] = [
    { conversationId: 'rt-group', messageId: 'g1', viewer: 'ana' },
    { conversationId: 'rt-group', messageId: 'g2', viewer: 'bo' },
    { conversationId: 'rt-dm', messageId: 'd1', viewer: 'dan' },
  ];
  const hot: ReceiptDetailsLookup[] = [];

  beforeAll(async () => {
    h = await createHarness(
      {
        TICKS_HOT_TTL_SECONDS: '8',
        TICKS_AUX_DEDUPE_TTL_SECONDS: '2',
        TICKS_PENDING_RECEIPT_WAIT_MS: '3000',
        TICKS_WATERMARK_FLUSH_INTERVAL_MS: '300',
      },
      { cassandra: true },
    );
    await h.startPersister();
    const p = h.publish;
    for (const u of ['ana', 'bo', 'cy']) p.memberAdded('rt-group', u, 'GROUP', t0);
    p.memberAdded('rt-dm', 'ana', 'DIRECT', t0).memberAdded('rt-dm', 'dan', 'DIRECT', t0);
    p.messageSent('rt-group', {
      messageId: 'g1',
      seq: 1,
      senderId: 'ana',
      kind: 'GROUP',
      sentAt: t0 + 1000,
    });
    p.messageSent('rt-group', {
      messageId: 'g2',
      seq: 2,
      senderId: 'ana',
      kind: 'GROUP',
      sentAt: t0 + 2000,
    });
    p.messageSent('rt-dm', {
      messageId: 'd1',
      seq: 1,
      senderId: 'ana',
      kind: 'DIRECT',
      sentAt: t0 + 3000,
    });
    await p.flush();
    await caughtUp(h);
    p.delivered('rt-group', 'bo', { messageIds: ['g1'] }, 'phone', t0 + 4000);
    p.read('rt-group', 'bo', { seq: 1 }, 'phone', t0 + 5000);
    p.delivered('rt-group', 'cy', { upToSeq: 2 }, 'phone', t0 + 6000);
    p.read('rt-group', 'cy', { messageId: 'g2' }, 'phone', t0 + 7000);
    p.read('rt-dm', 'dan', { seq: 1 }, 'phone', t0 + 8000);
    await p.flush();
    await caughtUp(h);
    await persisterCaughtUp(h);
    const redis = new RedisReceiptDetails(h.redis, h.keys);
    for (const q of queries) hot.push(await redis.lookup(q));
    server = await startApiServer(h, {
      gateway: false,
      receiptDetails: (fromRedis) =>
        new FallbackReceiptDetails(fromRedis, new CassandraReceiptDetails(h.durable!)),
    });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await h?.close();
  });

  it('Redis answered while it held the receipts', () => {
    expect(hot.map((a) => a.status)).toEqual(['found', 'found', 'found']);
    expect(hot[0]).toMatchObject({
      recipients: [
        { userId: 'bo', read: true, readAt: t0 + 5000, delivered: true, deliveredAt: t0 + 4000 },
        { userId: 'cy', read: true, readAt: t0 + 7000, delivered: true, deliveredAt: t0 + 6000 },
      ],
    });
  });

  it('after the hot TTL, the same answers come from Cassandra', async () => {
    const redis = new RedisReceiptDetails(h.redis, h.keys);
    await eventually(
      'the hot copy to expire',
      async () => (await redis.lookup(queries[0]!)).status === 'no_conversation',
      30_000,
    );
    const durable = new CassandraReceiptDetails(h.durable!);
    const fallback = new FallbackReceiptDetails(redis, durable);
    for (const [i, q] of queries.entries()) {
      expect((await redis.lookup(q)).status).toBe('no_conversation');
      expect(await fallback.lookup(q)).toEqual(hot[i]);
    }
    expect(await fallback.lookup({ ...queries[0]!, viewer: 'mallory' })).toEqual({
      status: 'not_member',
    });
    expect(await fallback.lookup({ ...queries[0]!, messageId: 'nope' })).toEqual({
      status: 'no_message',
    });
  }, 60_000);

  it('the query API serves them through the fallback', async () => {
    const call = apiClient(server.url);
    const answer = await call<{
      read: Array<{ user_id: string; at: number | null }>;
      delivered: Array<{ user_id: string; at: number | null }>;
    }>('GET', '/v1/messages/rt-dm/d1/receipts', { token: server.tokens.issue('ana') });
    expect(answer.status).toBe(200);
    expect(answer.body.read).toEqual([{ user_id: 'dan', at: t0 + 8000 }]);
    expect(answer.body.delivered).toEqual([{ user_id: 'dan', at: t0 + 8000 }]);
  });
});
