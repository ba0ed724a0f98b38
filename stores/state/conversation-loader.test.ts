import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis/connect';
import { loadConfig } from '../../config/config';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { runOne } from '../../tests/support/redis-state';
import { connectRedis } from '../redis/connect';
import { ConversationStore } from '../redis/conversation-store';
import { LOG_LAYOUT, MetaField, RedisKeys } from '../redis/keys';
import { LOADS_PER_CALL, loadConversations, loadDeliveredBy } from './conversation-loader';
import { deliveredByField } from './stored-values';

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
    expect([s.lastSeq, s.lastAt]).toEqual([3, '1003']);
    // When the expiry was last refreshed shows in what is left of meta's (no field says it).
    expect(s.metaExpiresAt! - Date.now()).toBeGreaterThan(500_000);
    expect([...s.members].sort()).toEqual(['ana', 'bo']);
    expect(Object.fromEntries(s.read)).toEqual({ ana: 3, bo: 3 });
    expect([...s.indexed()]).toEqual([
      ['m1', 1],
      ['m3', 3],
    ]);
    expect(s.message('m3')).toEqual({ seq: 3, sender: 'ana', sentAt: '1003' });
    expect(Object.fromEntries(s.notified)).toEqual({ 'd:bo': '1', 'r:bo': '3' });
    expect(s.hasHeld).toBe(true);
    expect([...s.deliveredBy('m1')!]).toEqual([['bo', '5000']]);
    expect(s.deliveredBy('m3')!.size).toBe(0); // loaded, empty
    expect(s.deliveredBy('m2')).toBeUndefined(); // not asked for

    const none = states.get('nothing')!;
    expect([none.kind, none.lastSeq, none.members.size, none.hasHeld]).toEqual([null, 0, 0, false]);

    await loadDeliveredBy(redis, [{ state: s, messageIds: ['m2'] }]);
    expect(s.deliveredBy('m2')!.size).toBe(0);
    // Asked later, as a step that needs it does: the same as with the load.
    const later = (await loadConversations(redis, keys, ['d'])).get('d')!;
    expect(later.deliveredBy('m1')).toBeUndefined();
    await loadDeliveredBy(redis, [{ state: later, messageIds: ['m1'] }]);
    expect([...later.deliveredBy('m1')!]).toEqual([['bo', '5000']]);
  });

  it('loads more conversations than one script call reads, each with its own messages and confirmations', async () => {
    const n = 2 * LOADS_PER_CALL + 3;
    const ids = Array.from({ length: n }, (_, i) => `many${i}`);
    for (const [i, c] of ids.entries()) {
      if (i % 5 === 4) continue; // some not in Redis at all, between the others
      await runOne(redis, store.membersChanged(c, [{ op: 'add', userId: `u${i}`, kind: 'GROUP' }]));
      await runOne(
        redis,
        store.messagesSent(c, [
          { messageId: `${c}-m`, seq: i + 1, senderId: `u${i}`, kind: 'GROUP', sentAt: 1000 + i },
        ]),
      );
      if (i % 2 === 0)
        await runOne(
          redis,
          store.applyReceipts(c, [
            {
              at: 9000 + i,
              shareRead: true,
              sourceAt: 9000,
              userId: `u${i}`,
              version: 1,
              command: { type: 'dlv_ids', messageIds: [`${c}-m`] },
            },
          ]),
        );
    }
    // Confirmations asked of every third conversation only: the others' lists are empty.
    const asked = new Map(ids.filter((_, i) => i % 3 === 0).map((c) => [c, [`${c}-m`]]));
    const states = await loadConversations(redis, keys, ids, asked);
    for (const [i, c] of ids.entries()) {
      const s = states.get(c)!;
      if (i % 5 === 4) {
        expect([s.kind, s.lastSeq, s.members.size]).toEqual([null, 0, 0]);
        continue;
      }
      expect([s.kind, s.lastSeq, [...s.members]]).toEqual(['GROUP', i + 1, [`u${i}`]]);
      const confirmed = s.deliveredBy(`${c}-m`);
      if (i % 3 !== 0) expect(confirmed).toBeUndefined();
      else
        expect(confirmed && [...confirmed]).toEqual(
          i % 2 === 0 ? [[`u${i}`, String(9000 + i)]] : [],
        );
    }
  });

  it('reads no legacy-layout key of a conversation created in the current layout', async () => {
    // 'd' (the first test) was created by this build's scripts: meta says so ('lv').
    await redis.sadd(keys.legacyKey('d', 'members'), 'ghost');
    await redis.hset(keys.legacyKey('d', 'read'), 'ghost', '3');
    const s = (await loadConversations(redis, keys, ['d'])).get('d')!;
    expect([...s.members].sort()).toEqual(['ana', 'bo']);
    expect(s.read.has('ghost')).toBe(false);
    expect(s.legacyLayout).toBe(false);
    // Without the mark (an older build's conversation), they are read, as before.
    await redis.hdel(keys.conversationKey('d', 'meta'), MetaField.layout);
    const older = (await loadConversations(redis, keys, ['d'])).get('d')!;
    expect(older.read.get('ghost')).toBe(3);
    expect(older.legacyLayout).toBe(true);
    await redis.hset(keys.conversationKey('d', 'meta'), MetaField.layout, LOG_LAYOUT);
  });

  it("reads an older build's dlv:<id> hashes beside the conversation's dlv hash, until it says it has none", async () => {
    // Written before deliveries by id shared a hash: meta without 'lv', bo's confirmation of m1
    // in dlv:m1; ana's came after the upgrade (the conversation's hash).
    const p = keys.conversation('old');
    await redis
      .multi()
      .hset(`${p}meta`, { kind: 'DIRECT', last_seq: '1', 'm:ana': '1', 'm:bo': '1' })
      .hset(`${p}msg`, 'm1', '1|ana|1000')
      .zadd(`${p}msgs`, 1, 'm1')
      .hset(`${p}dlv:m1`, 'bo', '4000')
      .hset(`${p}dlv`, deliveredByField('m1', 'ana'), '4500', deliveredByField('m1', 'bo'), '4600')
      .exec();
    const viaLoad = (await loadConversations(redis, keys, ['old'], new Map([['old', ['m1']]]))).get(
      'old',
    )!;
    expect(viaLoad.olderKeys).toBe(true);
    const both = [
      ['bo', '4000'], // the older hash's comes first: the first confirmation is kept
      ['ana', '4500'],
    ];
    expect([...viaLoad.deliveredBy('m1')!].sort()).toEqual(both.sort());
    const asked = (await loadConversations(redis, keys, ['old'])).get('old')!;
    await loadDeliveredBy(redis, [{ state: asked, messageIds: ['m1'] }]);
    expect([...asked.deliveredBy('m1')!].sort()).toEqual(both.sort());

    await redis.hset(`${p}meta`, MetaField.layout, LOG_LAYOUT);
    const today = (await loadConversations(redis, keys, ['old'], new Map([['old', ['m1']]]))).get(
      'old',
    )!;
    expect(today.olderKeys).toBe(false);
    expect(Object.fromEntries(today.deliveredBy('m1')!)).toEqual({ ana: '4500', bo: '4600' });
  });
});
