import { randomBytes } from 'node:crypto';
import { mainRedisFor } from '../../tests/support/test-redis';
import { restoredGroup } from '../../tests/support/restored-group';
import type { RedisClient } from './connect';
import { HotStateRestorer, type RestoredConversation } from './hot-state-restorer';
import { LOG_LAYOUT, MetaField, PACKED_LOG_LAYOUT, RedisKeys } from './keys';
import { MemberLog, type LogMove } from '../state/member-log';
import { ReadModel } from './read-model';
import { indexEntry } from '../state/stored-values';

/** The rebuild's restore and the message index, in today's layout and in the one before. */
describe('HotStateRestorer message index (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const keys = new RedisKeys(prefix);
  const main = mainRedisFor(prefix);
  let redis: RedisClient;
  let restorer: HotStateRestorer;

  beforeAll(() => {
    redis = main.client;
    restorer = new HotStateRestorer(redis, redis, keys, 3600);
  });

  /** m1..m3 from ann; the deleted ones restored as deletions, not as messages. */
  const sent = [1, 2, 3].map((seq) => ({
    seq,
    messageId: `m${seq}`,
    senderId: 'ann',
    sentAt: 1_000 + seq,
  }));
  const conversation = (id: string, deleted: string[] = []): RestoredConversation => ({
    ...restoredGroup(id, sent),
    messages: sent.filter((m) => !deleted.includes(m.messageId)),
    deleted,
  });

  it('creates a conversation with its index in ix, and a later restore of a deletion takes the message out', async () => {
    const p = keys.conversation('new');
    await restorer.restoreConversations([conversation('new')]);
    expect(await redis.hget(`${p}meta`, MetaField.layout)).toBe(PACKED_LOG_LAYOUT);
    // helpers.lua writes what stored-values.ts indexEntry writes: sent_at in base 36 (1001 = rt).
    expect(await redis.zrange(`${p}ix`, '0', '-1')).toEqual([
      '2:m1|ann#rt',
      '2:m2|ann#ru',
      '2:m3|ann#rv',
    ]);
    expect(await redis.zrange(`${p}ix`, '0', '-1')).toEqual(
      [1, 2, 3].map((n) => indexEntry(`m${n}`, 'ann', String(1000 + n))),
    );
    expect(await redis.exists(`${p}msg`, `${p}msgs`)).toBe(0);
    expect(await redis.ttl(`${p}ix`)).toBeGreaterThan(0);
    const model = new ReadModel(redis, keys);
    expect((await model.unreadMany(['new'], 'bo'))[0]!.unread).toBe(3);

    await restorer.restoreConversations([conversation('new', ['m2'])]);
    expect(await redis.zrange(`${p}ix`, '0', '-1')).toEqual(['2:m1|ann#rt', '2:m3|ann#rv']);
    expect(await redis.hget(`${p}deleted`, 'm2')).toBe('0');
    expect((await model.unreadMany(['new'], 'bo'))[0]!.unread).toBe(2);
  });

  it("merges restored logs into a conversation's fields: what is there already is not added twice, the rest packed in seq order", async () => {
    const moves = (at: number): LogMove[] => [
      { which: 'delivered', seq: 1, at },
      { which: 'read', seq: 2, at: at + 10 },
    ];
    const withLogs = (id: string, bo: LogMove[], kind: 'GROUP' | 'DIRECT' = 'GROUP') => ({
      ...restoredGroup(id, sent),
      kind,
      readLog: { bo: bo.filter((m) => m.which === 'read') },
      deliveredLog: { bo: bo.filter((m) => m.which === 'delivered') },
    });
    const packed = (bo: LogMove[]) => Object.fromEntries(MemberLog.inSeqOrder('bo', bo).fields());
    for (const kind of ['GROUP', 'DIRECT'] as const) {
      const id = `logs-${kind}`;
      const p = keys.conversation(id);
      const hash = `${p}${kind === 'DIRECT' ? 'meta' : 'log'}`;
      const logFields = async () =>
        Object.fromEntries(
          Object.entries(await redis.hgetall(hash)).filter(([f]) => /^l\d*:/.test(f)),
        );
      await restorer.restoreConversations([withLogs(id, moves(5_000), kind)]);
      expect(await logFields()).toEqual(packed(moves(5_000)));
      await restorer.restoreConversations([withLogs(id, moves(5_000), kind)]);
      expect(await logFields()).toEqual(packed(moves(5_000)));
      // Durable moves the hot copy lacked (a later read, an earlier delivery): merged.
      const more: LogMove[] = [
        { which: 'read', seq: 3, at: 9_000 },
        { which: 'delivered', seq: 1, at: 4_000 },
      ];
      await restorer.restoreConversations([withLogs(id, more, kind)]);
      expect(await logFields()).toEqual(packed([...moves(5_000), ...more]));
      expect(await redis.exists(`${p}log:bo`)).toBe(0);
      if (kind === 'GROUP') expect(await redis.ttl(hash)).toBeGreaterThan(0);
    }
  });

  it("keeps an existing conversation's older index (msg and msgs) where it is", async () => {
    const p = keys.conversation('older');
    await redis
      .multi()
      .hset(`${p}meta`, { kind: 'GROUP', [MetaField.layout]: LOG_LAYOUT, 'm:ann': '1' })
      .hset(`${p}msg`, 'm1', '1|ann|1001')
      .zadd(`${p}msgs`, 1, 'm1')
      .exec();
    await restorer.restoreConversations([conversation('older', ['m1'])]);
    expect(await redis.hget(`${p}meta`, MetaField.layout)).toBe(LOG_LAYOUT);
    expect(await redis.exists(`${p}ix`)).toBe(0);
    expect(await redis.zrange(`${p}msgs`, '0', '-1', 'WITHSCORES')).toEqual(['m2', '2', 'm3', '3']);
    expect(await redis.hkeys(`${p}msg`)).toEqual(['m2', 'm3']);
    const model = new ReadModel(redis, keys);
    expect((await model.unreadMany(['older'], 'bo'))[0]!.unread).toBe(2);
  });
});
