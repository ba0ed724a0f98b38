import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../config/config';
import { applyMemberChanges } from '../../processors/engine/members-changed';
import { applyMessagesSent } from '../../processors/engine/messages-sent';
import { applyMessagesDeleted } from '../../processors/engine/messages-deleted';
import { applyReceipts } from '../../processors/engine/apply-receipts';
import type { EngineStep } from '../../processors/engine/engine-step';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { writeLegacyConversation } from '../../tests/support/legacy-layout';
import { runOne } from '../../tests/support/redis-state';
import { connectRedis, type RedisClient } from '../redis/connect';
import { ConversationStore, type ReceiptInput } from '../redis/conversation-store';
import { INDEX_LAYOUT, LOG_LAYOUT, MetaField, PACKED_LOG_LAYOUT, RedisKeys } from '../redis/keys';
import { RedisReceiptDetails } from '../redis/receipt-details';
import { ReadModel } from '../redis/read-model';
import { loadConversations } from './conversation-loader';
import { WriteSet } from './write-set';

/**
 * The layout of a conversation's hot state in Redis, as memory sees it: members and watermarks
 * are fields of the meta hash (one small listpack), not a set and two hashes of their own; and
 * state written in the layout before that still loads and moves into meta on its next write.
 */
describe('hot-state layout (real Redis)', () => {
  const keys = new RedisKeys(`t${randomBytes(4).toString('hex')}`);
  const TTL = 600;
  let redis: RedisClient;
  let store: ConversationStore;

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
    store = new ConversationStore(redis, keys, TTL);
  });
  afterAll(async () => {
    await deleteKeys(redis, await scanKeys(redis, keys.all()));
    redis.disconnect();
  });

  const step = (): EngineStep => ({
    writes: new WriteSet(),
    ttlSeconds: TTL,
    now: Date.now(),
    maxIndexedMessages: 2000,
  });
  const users = Array.from({ length: 20 }, (_, i) => `user-${i}`);
  const read = (userId: string, seq: number): ReceiptInput => ({
    userId,
    at: 5000 + seq,
    shareRead: true,
    version: seq,
    sourceAt: 5000,
    command: { type: 'read', seq },
  });
  const encodings = async (conversationId: string) => {
    const prefix = keys.conversation(conversationId);
    const found = (await scanKeys(redis, `${prefix}*`)).sort();
    const out: Record<string, string | null> = {};
    for (const key of found)
      out[key.slice(prefix.length)] = (await redis.object('ENCODING', key)) as string | null;
    return out;
  };

  it.each(['engine', 'scripts'])(
    'a group of 20 keeps members and watermarks in meta, a listpack (%s)',
    async (how) => {
      const c = `group-${how}`;
      const members = users.map((userId) => ({
        op: 'add' as const,
        userId,
        kind: 'GROUP' as const,
      }));
      const messages = [1, 2, 3].map((seq) => ({
        messageId: `${c}:${seq}`,
        seq,
        senderId: users[seq]!,
        kind: 'GROUP' as const,
        sentAt: 1000 + seq,
      }));
      const receipts = users.slice(5, 15).map((u) => read(u, 3));
      if (how === 'engine') {
        const s = step();
        const state = (await loadConversations(redis, keys, [c])).get(c)!;
        applyMemberChanges(state, members, s);
        applyMessagesSent(state, messages, s);
        applyReceipts(state, receipts, s);
        await s.writes.flush(redis);
      } else {
        await runOne(redis, store.membersChanged(c, members));
        await runOne(redis, store.messagesSent(c, messages));
        await runOne(redis, store.applyReceipts(c, receipts));
      }
      const found = await encodings(c);
      // No members set (a hashtable in Redis 7.0: ~750 B for 20), no read or dlvd hash; the
      // reads opened a group window.
      // The engine keeps the message index in one key (ix) and the members' logs in one hash
      // (log); the reference scripts in the layout before (msg and msgs, a log:<user> each).
      expect(Object.keys(found).filter((k) => !k.includes(':'))).toEqual(
        how === 'engine' ? ['ix', 'log', 'meta', 'win'] : ['meta', 'msg', 'msgs', 'win'],
      );
      expect(Object.keys(found).filter((k) => k.startsWith('log:'))).toHaveLength(
        how === 'engine' ? 0 : 10,
      );
      if (how === 'engine') expect([found.ix, found.log]).toEqual(['listpack', 'listpack']);
      expect(found.meta).toBe('listpack');
      const model = new ReadModel(redis, keys);
      expect(await model.members(c)).toEqual([...users].sort());
      expect(await model.watermark(c, users[7]!)).toBe(3);
      expect(await model.watermark(c, users[16]!)).toBe(0);
      expect(await model.unread(c, users[16]!)).toBe(3);
      for (const key of await scanKeys(redis, `${keys.conversation(c)}*`))
        expect(await redis.ttl(key)).toBeGreaterThan(0);
    },
  );

  it('loads state written in the legacy layout and moves it into meta on its next write', async () => {
    const c = 'legacy';
    const key = (suffix: string) => `${keys.conversation(c)}${suffix}`;
    // As a build before this layout left it: members, read and dlvd as keys of their own.
    await redis.hset(
      key('meta'),
      'kind',
      'GROUP',
      'last_seq',
      '4',
      'last_msg',
      'm4',
      'last_at',
      '4',
    );
    await redis.sadd(key('members'), 'ana', 'bo', 'cy');
    await redis.hset(key('read'), 'ana', '4', 'bo', '2', 'dee', '3'); // dee left, keeps hers
    await redis.hset(key('dlvd'), 'ana', '4', 'bo', '3', 'dee', '3');
    await redis.zadd(key('msgs'), 1, 'm1', 2, 'm2', 3, 'm3', 4, 'm4');
    await redis.hset(
      key('msg'),
      'm1',
      '1|ana|1',
      'm2',
      '2|ana|2',
      'm3',
      '3|ana|3',
      'm4',
      '4|ana|4',
    );

    const state = (await loadConversations(redis, keys, [c])).get(c)!;
    expect([...state.members].sort()).toEqual(['ana', 'bo', 'cy']);
    expect(Object.fromEntries(state.read)).toEqual({ ana: 4, bo: 2, dee: 3 });
    expect(state.legacyLayout).toBe(true);
    expect(state.staleLastMsg).toBe(true); // an older build's field, deleted by the next last_seq

    const s = step();
    applyReceipts(state, [read('cy', 1)], s);
    await s.writes.flush(redis);
    for (const suffix of ['members', 'read', 'dlvd'])
      expect(await redis.exists(key(suffix))).toBe(0);
    const model = new ReadModel(redis, keys);
    expect(await model.members(c)).toEqual(['ana', 'bo', 'cy']);
    expect(await model.watermark(c, 'bo')).toBe(2);
    expect(await model.watermark(c, 'cy')).toBe(1);
    expect(await model.watermark(c, 'dee')).toBe(3);
    expect(await model.unread(c, 'cy')).toBe(3);
    const again = (await loadConversations(redis, keys, [c])).get(c)!;
    expect(again.legacyLayout).toBe(false);
    expect(Object.fromEntries(again.dlvd)).toEqual({ ana: 4, bo: 3, cy: 1, dee: 3 });
  });

  it("moves a conversation's message index into ix and its members' logs into fields on its next write, answering alike", async () => {
    const c = 'log-layout';
    const key = (suffix: string) => `${keys.conversation(c)}${suffix}`;
    // Written in LOG_LAYOUT (as the reference scripts still write): the index in msg and msgs.
    await runOne(
      redis,
      store.membersChanged(
        c,
        ['ana', 'bo', 'cy'].map((userId) => ({
          op: 'add' as const,
          userId,
          kind: 'GROUP' as const,
        })),
      ),
    );
    await runOne(
      redis,
      store.messagesSent(
        c,
        [1, 2, 3, 4].map((seq) => ({
          messageId: `m${seq}`,
          seq,
          senderId: seq % 2 ? 'ana' : 'bo',
          kind: 'GROUP' as const,
          sentAt: 1000 + seq,
        })),
      ),
    );
    await runOne(redis, store.applyReceipts(c, [read('cy', 2)]));
    expect(await redis.hget(key('meta'), MetaField.layout)).toBe(LOG_LAYOUT);
    expect(await redis.exists(key('msg'), key('msgs'), key('ix'))).toBe(2);
    const model = new ReadModel(redis, keys);
    const details = new RedisReceiptDetails(redis, keys);
    const answers = async () => ({
      unread: await model.unreadMany([c], 'cy'),
      m1: await details.lookup({ conversationId: c, messageId: 'm1', viewer: 'ana' }),
      m3: await details.lookup({ conversationId: c, messageId: 'm3', viewer: 'cy' }),
    });
    const before = await answers();
    expect(before.unread[0]!.unread).toBe(2);

    const state = (await loadConversations(redis, keys, [c])).get(c)!;
    expect(state.oneKeyIndex).toBe(false);
    const s = step();
    applyReceipts(state, [read('bo', 1)], s); // bo had read up to his m2: no change but a log
    await s.writes.flush(redis);
    // Today's layout: the index in ix, and cy's log (read to 2) in a field of the `log` hash.
    expect(await redis.hget(key('meta'), MetaField.layout)).toBe(PACKED_LOG_LAYOUT);
    expect(await scanKeys(redis, `${keys.conversation(c)}log:*`)).toEqual([]);
    expect(Object.keys(await redis.hgetall(key('log')))).toEqual(['l:cy']);
    expect(await redis.exists(key('msg'), key('msgs'))).toBe(0);
    expect(await redis.zrange(key('ix'), '0', '-1', 'WITHSCORES')).toEqual([
      '2:m1|ana#rt',
      '1',
      '2:m2|bo#ru',
      '2',
      '2:m3|ana#rv',
      '3',
      '2:m4|bo#rw',
      '4',
    ]);
    expect(await redis.ttl(key('ix'))).toBeGreaterThan(0);
    const after = await answers();
    expect(after.unread).toEqual(before.unread);
    expect(after.m1).toMatchObject({
      status: 'found',
      message: { seq: 1, senderId: 'ana', sentAt: 1001 },
    });
    expect(after.m1).toEqual(before.m1);
    expect(after.m3).toEqual(before.m3);
    const again = (await loadConversations(redis, keys, [c])).get(c)!;
    expect(again.oneKeyIndex).toBe(true);
    expect([...again.indexed()]).toEqual([...state.indexed()]);
    expect(again.message('m4')).toEqual({ seq: 4, sender: 'bo', sentAt: '1004' });
  });

  it('an index entry an older build wrote with a decimal sent_at is replaced, not doubled, and a deletion takes it out', async () => {
    const c = 'decimal-index';
    const key = (suffix: string) => `${keys.conversation(c)}${suffix}`;
    // As the build before base-36 times wrote it: INDEX_LAYOUT, '…|<sender>|<sent_at>'.
    await redis
      .multi()
      .hset(key('meta'), { kind: 'GROUP', lv: INDEX_LAYOUT, last_seq: '2', 'm:ana': '1' })
      .hset(key('meta'), { 'm:bo': '1', 'r:ana': '2', 'd:ana': '2', 'r:bo': '0', 'd:bo': '0' })
      .zadd(key('ix'), 1, '2:m1|ana|1001', 2, '2:m2|ana|1002')
      .exec();
    const model = new ReadModel(redis, keys);
    const unread = async () => (await model.unreadMany([c], 'bo'))[0]!.unread;
    expect(await unread()).toBe(2);
    const state = (await loadConversations(redis, keys, [c])).get(c)!;
    expect(state.message('m1')).toEqual({ seq: 1, sender: 'ana', sentAt: '1001' });

    // m1 again (a redo of its MessageSent), m3 new: m1's entry is rewritten in base 36, once.
    const s = step();
    applyMessagesSent(
      state,
      [1, 3].map((seq) => ({
        messageId: `m${seq}`,
        seq,
        senderId: 'ana',
        kind: 'GROUP' as const,
        sentAt: 1000 + seq,
      })),
      s,
    );
    await s.writes.flush(redis);
    expect(await redis.zrange(key('ix'), '0', '-1')).toEqual([
      '2:m1|ana#rt',
      '2:m2|ana|1002',
      '2:m3|ana#rv',
    ]);
    expect(await unread()).toBe(3);

    // m2, still decimal, deleted: gone from the index, whichever form it was in.
    const d = step();
    applyMessagesDeleted(state, [{ messageId: 'm2' }], d);
    await d.writes.flush(redis);
    expect(await redis.zrange(key('ix'), '0', '-1')).toEqual(['2:m1|ana#rt', '2:m3|ana#rv']);
    expect(await unread()).toBe(2);
  });

  it("keeps a direct chat's 'told up to' marks of the legacy notified hash, moved into meta", async () => {
    const c = 'legacy-dm';
    const marks = { 'r:bo': '3|9|m3', 'd:bo': '3|8|m3' };
    await writeLegacyConversation(redis, keys, c, {
      kind: 'DIRECT',
      members: ['ana', 'bo'],
      read: { ana: 4, bo: 2 },
      dlvd: { ana: 4, bo: 3 },
      messages: [1, 2, 3, 4].map((seq): [string, string, number] => [`m${seq}`, 'ana', seq]),
      notified: marks, // bo's read of m3 was told (its watermark write was cut short)
    });
    const state = (await loadConversations(redis, keys, [c])).get(c)!;
    expect(state.legacyLayout).toBe(true);
    const s = step();
    const [redo, next] = applyReceipts(state, [read('bo', 3), read('bo', 4)], s);
    // Told already (the mark): the redo pushes nothing; the next read does.
    expect(redo).toMatchObject({ applied: true, push: null });
    expect(next).toMatchObject({ applied: true, push: { messageId: 'm4', status: 'READ' } });
    await s.writes.flush(redis);
    expect(await redis.exists(keys.legacyKey(c, 'notified'))).toBe(0);
    const meta = await redis.hgetall(keys.conversationKey(c, 'meta'));
    expect(meta).toMatchObject({ [MetaField.told('d:bo')]: '3|8|m3' });
    // Moved as it was (an older build's "seq|version|message"); a new mark is its seq alone.
    expect(meta[MetaField.told('r:bo')]).toBe('4');
    const again = (await loadConversations(redis, keys, [c])).get(c)!;
    expect(again.legacyLayout).toBe(false);
    expect(again.notified.get('d:bo')).toBe('3|8|m3');
    expect(again.notified.get('r:bo')).toBe(meta[MetaField.told('r:bo')]);
  });
});
