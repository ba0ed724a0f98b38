import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis/connect';
import { loadConfig } from '../../config/config';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { runOne } from '../../tests/support/redis-state';
import { connectRedis } from '../redis/connect';
import { ConversationStore } from '../redis/conversation-store';
import { RedisKeys } from '../redis/keys';
import { loadConversations, loadDeliveredBy } from './conversation-loader';

/** The loader reads back, in one round trip, what the scripts wrote (real Redis). */
describe('loadConversations (real Redis)', () => {
  const keys = new RedisKeys(`t${randomBytes(4).toString('hex')}`);
  let redis: RedisClient;
  let store: ConversationStore;

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
    store = new ConversationStore(redis, keys, 600);
  });
  afterAll(async () => {
    const found = await scanKeys(redis, keys.all());
    await deleteKeys(redis, found);
    redis.disconnect();
  });

  it('loads meta, members, watermarks, the message index, marks, window, held and dlv hashes', async () => {
    await runOne(
      redis,
      store.membersChanged('d', [
        { op: 'add', userId: 'ana', kind: 'DIRECT' },
        { op: 'add', userId: 'bo', kind: 'DIRECT' },
      ]),
    );
    await runOne(
      redis,
      store.messagesSent('d', [
        { messageId: 'm1', seq: 1, senderId: 'ana', kind: 'DIRECT', sentAt: 1001 },
        { messageId: 'm3', seq: 3, senderId: 'ana', kind: 'DIRECT', sentAt: 1003 },
      ]),
    );
    const receipt = { at: 5000, shareRead: true, sourceAt: 6000 };
    await runOne(
      redis,
      store.applyReceipts('d', [
        { ...receipt, userId: 'bo', version: 7, command: { type: 'dlv_ids', messageIds: ['m1'] } },
        { ...receipt, userId: 'bo', version: 8, command: { type: 'read', seq: 3 } },
      ]),
    );
    await redis.zadd(keys.conversationKey('d', 'held'), 1, 'x');

    const states = await loadConversations(
      redis,
      keys,
      ['d', 'nothing'],
      new Map([['d', ['m1', 'm3']]]),
    );
    const s = states.get('d')!;
    expect(s.kind).toBe('DIRECT');
    expect([s.lastSeq, s.lastMsg, s.lastAt]).toEqual([3, 'm3', '1003']);
    expect(s.touched).toEqual(expect.any(Number));
    expect([...s.members].sort()).toEqual(['ana', 'bo']);
    expect(Object.fromEntries(s.read)).toEqual({ ana: 3, bo: 3 });
    expect([...s.indexed()]).toEqual([
      ['m1', 1],
      ['m3', 3],
    ]);
    expect(s.message('m3')).toEqual({ seq: 3, sender: 'ana', sentAt: '1003' });
    expect(Object.fromEntries(s.notified)).toEqual({ 'd:bo': '1|7|m1', 'r:bo': '3|8|m3' });
    expect(s.hasHeld).toBe(true);
    expect([...s.deliveredBy('m1')!]).toEqual([['bo', '5000']]);
    expect(s.deliveredBy('m3')!.size).toBe(0); // loaded, empty
    expect(s.deliveredBy('m2')).toBeUndefined(); // not asked for

    const none = states.get('nothing')!;
    expect([none.kind, none.lastSeq, none.members.size, none.hasHeld]).toEqual([null, 0, 0, false]);

    await loadDeliveredBy(redis, [{ state: s, messageIds: ['m2'] }]);
    expect(s.deliveredBy('m2')!.size).toBe(0);
  });
});
