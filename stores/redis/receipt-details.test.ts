import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../config/config';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { connectRedis, type RedisClient } from './connect';
import { HotStateRestorer } from './hot-state-restorer';
import { INDEX_LAYOUT, LOG_LAYOUT, MetaField, PACKED_LOG_LAYOUT, RedisKeys } from './keys';
import { RedisReceiptDetails } from './receipt-details';
import { deliveredByField, indexEntry, logEntry, MAX_PACKED_LOG_AT } from '../state/stored-values';
import { restoredGroup } from '../../tests/support/restored-group';
import { MemberLog, type LogMove } from '../state/member-log';

/** The fields the engine writes for a member who made `moves`, in order (MemberLog). */
function logFields(userId: string, moves: LogMove[]): Record<string, string> {
  const log = new MemberLog(userId);
  for (const move of moves) log.append(move);
  return Object.fromEntries(log.fields());
}

/**
 * Receipt details against the real main Redis: an answer held by the source is given again only
 * while the state it was computed from is the same; any read, delivery, member or message since
 * gives a new one.
 */
describe('RedisReceiptDetails answers held (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const keys = new RedisKeys(prefix);
  let redis: RedisClient;
  const c = 'grp';
  const query = { conversationId: c, messageId: 'm1', viewer: 'ann' };

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
    await new HotStateRestorer(redis, redis, keys, 3600).restoreConversations([
      {
        conversationId: c,
        kind: 'GROUP',
        deleted: [],
        marked: {},
        last: { seq: 1, messageId: 'm1', at: 1_000 },
        members: ['ann', 'bo', 'cy'],
        former: [],
        read: { ann: 1, bo: 1, cy: 0 },
        delivered: { ann: 1, bo: 1, cy: 0 },
        messages: [{ seq: 1, messageId: 'm1', senderId: 'ann', sentAt: 1_000 }],
        readLog: { bo: [{ seq: 1, at: 2_000 }] },
        deliveredLog: { bo: [{ seq: 1, at: 1_500 }] },
        deliveredById: {},
      },
    ]);
    // The first test reads by fingerprint: the state of a writer that gave it no revision (the
    // older layout). The restore gave it one (the last test).
    await redis.hdel(`${keys.conversation(c)}meta`, MetaField.revision);
  });
  afterAll(async () => {
    await deleteKeys(redis, await scanKeys(redis, keys.all()));
    redis.disconnect();
  });

  const recipients = async (source: RedisReceiptDetails) => {
    const found = await source.lookup(query);
    if (found.status !== 'found') throw new Error(`not found: ${found.status}`);
    return found.recipients.map((r) => [r.userId, r.readAt, r.deliveredAt]);
  };

  it('the restore (helpers.lua packLogMoves) packs a log into fields as the engine does (MemberLog)', async () => {
    const p = keys.conversation(c);
    expect(await redis.hget(`${p}meta`, MetaField.layout)).toBe(PACKED_LOG_LAYOUT);
    expect(await redis.exists(`${p}log:bo`)).toBe(0);
    // A group's logs are the `log` hash's fields: bo's moves in seq order.
    expect(await redis.hgetall(`${p}log`)).toEqual(
      logFields('bo', [
        { which: 'delivered', seq: 1, at: 1_500 },
        { which: 'read', seq: 1, at: 2_000 },
      ]),
    );
  });

  it('gives a held answer while nothing changed, and a new one as soon as something did', async () => {
    const source = new RedisReceiptDetails(redis, keys);
    const first = await source.lookup(query);
    expect(await recipients(source)).toEqual([
      ['bo', 2_000, 1_500],
      ['cy', null, null],
    ]);
    expect(await source.lookup(query)).toBe(first); // held: the state is the same

    // cy receives and reads it (watermarks and logs, as the pipeline writes them).
    const p = keys.conversation(c);
    await redis
      .multi()
      .hset(`${p}meta`, MetaField.dlvd('cy'), '1')
      .hset(`${p}meta`, MetaField.read('cy'), '1')
      .hset(
        `${p}log`,
        logFields('cy', [
          { which: 'delivered', seq: 1, at: 3_000 },
          { which: 'read', seq: 1, at: 4_000 },
        ]),
      )
      .exec();
    expect(await recipients(source)).toEqual([
      ['bo', 2_000, 1_500],
      ['cy', 4_000, 3_000],
    ]);

    // A new member: listed at once.
    await redis.hset(`${p}meta`, MetaField.member('dee'), '1');
    expect((await recipients(source)).map(([u]) => u)).toEqual(['bo', 'cy', 'dee']);

    // A later message from dee: dee's implicit read is dated by it.
    await redis
      .multi()
      .zadd(`${p}ix`, 2, indexEntry('m2', 'dee', '5000'))
      .hset(`${p}meta`, 'last_seq', '2')
      .hset(`${p}meta`, MetaField.read('dee'), '2')
      .exec();
    expect((await recipients(source)).find(([u]) => u === 'dee')).toEqual(['dee', 5_000, 5_000]);
  });

  it("where the pipeline wrote a 'rev', holds an answer while it is unchanged and reads anew once it changed", async () => {
    const p = keys.conversation(c);
    const source = new RedisReceiptDetails(redis, keys);
    await redis.hset(`${p}meta`, MetaField.revision, 'w.1');
    const first = await source.lookup(query);
    // The revision is what is compared: a write that kept it (no writer does) would not be seen…
    await redis.hset(`${p}meta`, MetaField.read('bo'), '0');
    expect(await source.lookup(query)).toBe(first);
    // …and one that replaced it is, whatever it changed.
    await redis.hset(`${p}meta`, MetaField.revision, 'w.2');
    expect(await recipients(source)).not.toContainEqual(['bo', 2_000, 1_500]);
    // A member removed since is refused even while the revision holds.
    await redis.hdel(`${p}meta`, MetaField.member('ann'));
    expect((await source.lookup(query)).status).toBe('not_member');
    await redis.hset(`${p}meta`, MetaField.member('ann'), '1', MetaField.read('bo'), '1');
  });

  it("a rebuild's restore writes a new 'rev': an answer held before it is read anew", async () => {
    const p = keys.conversation(c);
    const source = new RedisReceiptDetails(redis, keys);
    await redis.hset(`${p}meta`, MetaField.revision, 'w.3');
    const first = await source.lookup(query);
    await new HotStateRestorer(redis, redis, keys, 3600).restoreConversations([
      {
        conversationId: c,
        kind: 'GROUP',
        deleted: [],
        marked: {},
        last: null,
        members: ['eve'],
        former: [],
        read: {},
        delivered: {},
        messages: [],
        readLog: {},
        deliveredLog: {},
        deliveredById: {},
      },
    ]);
    expect(await redis.hget(`${p}meta`, MetaField.revision)).toMatch(/^[\w-]+\.[0-9a-z]+$/);
    const after = await source.lookup(query);
    expect(after).not.toBe(first);
    if (after.status !== 'found') throw new Error(after.status);
    expect(after.recipients.map((r) => r.userId)).toContain('eve');
  });

  it('finds a message by id in the one-key index whatever characters ids hold (glob, separators, UTF-8)', async () => {
    const ids = ['a*', 'ab', 'a?', 'a[b]', 'a\\', 'x|1|y', 'ü:2', '2:ü'];
    await new HotStateRestorer(redis, redis, keys, 3600).restoreConversations([
      restoredGroup(
        'odd-ids',
        ids.map((messageId, i) => ({
          seq: i + 1,
          messageId,
          senderId: `sender|${i}`,
          sentAt: 1_000 + i,
        })),
      ),
    ]);
    const p = keys.conversation('odd-ids');
    expect(await redis.hget(`${p}meta`, MetaField.layout)).toBe(PACKED_LOG_LAYOUT);
    expect(await redis.exists(`${p}msg`, `${p}msgs`)).toBe(0);
    const source = new RedisReceiptDetails(redis, keys);
    for (const [i, messageId] of ids.entries()) {
      const found = await source.lookup({ conversationId: 'odd-ids', messageId, viewer: 'ann' });
      expect({ messageId, found }).toMatchObject({
        messageId,
        found: {
          status: 'found',
          message: { seq: i + 1, senderId: `sender|${i}`, sentAt: 1_000 + i },
        },
      });
    }
    for (const messageId of ['a', 'a*b', '*', 'x', 'ü', 'b'])
      expect(
        (await source.lookup({ conversationId: 'odd-ids', messageId, viewer: 'ann' })).status,
      ).toBe('no_message');
  });

  it("finds a held answer's message again where its seq no longer leads to it (moved, or another message there)", async () => {
    const c = 'hinted';
    await new HotStateRestorer(redis, redis, keys, 3600).restoreConversations([
      restoredGroup(
        c,
        [1, 2].map((seq) => ({ seq, messageId: `h${seq}`, senderId: 'ann', sentAt: 1_000 + seq })),
      ),
    ]);
    const p = keys.conversation(c);
    const source = new RedisReceiptDetails(redis, keys);
    const query = { conversationId: c, messageId: 'h1', viewer: 'bo' };
    expect(await source.lookup(query)).toMatchObject({ message: { seq: 1 } });
    // h1 sent again at seq 3 (its entry moves), and h2 now shares seq 1's old place: the held
    // answer's seq (1) finds another message there, or none; the search finds h1 where it is.
    await redis
      .multi()
      .zadd(`${p}ix`, 3, indexEntry('h1', 'ann', '1001'))
      .zadd(`${p}ix`, 1, indexEntry('h2', 'ann', '1002'))
      .hset(`${p}meta`, 'last_seq', '3', MetaField.revision, 'moved')
      .exec();
    expect(await source.lookup(query)).toMatchObject({
      status: 'found',
      message: { seq: 3, senderId: 'ann', sentAt: 1_001 },
    });
    // A client's seq is a hint too: a fresh source (nothing held) given a wrong one, or the
    // right one, finds h1 where it is.
    for (const seq of [1, 2, 3, 99])
      expect(await new RedisReceiptDetails(redis, keys).lookup({ ...query, seq })).toMatchObject({
        status: 'found',
        message: { seq: 3 },
      });
    await redis.zrem(`${p}ix`, indexEntry('h1', 'ann', '1001'));
    await redis.hset(`${p}meta`, MetaField.revision, 'gone');
    expect((await source.lookup(query)).status).toBe('no_message');
  });

  it('dates moves from packed log entries, the older strings and times too large to pack', async () => {
    const p = keys.conversation('forms');
    const far = MAX_PACKED_LOG_AT + 1;
    const move = (which: 'read' | 'delivered', seq: number, at: number) => {
      const { score, member } = logEntry(which, seq, String(at));
      return [score, member] as const;
    };
    const entries = [
      // bo read m1 and, in the same millisecond, m3: two entries, both dated 2000.
      move('read', 1, 2_000),
      move('read', 3, 2_000),
      move('delivered', 3, 1_500),
      // cy's delivery to 2 in the older string form, then a read at a time too large to pack.
      [-2, '-2|1700'] as const,
      move('read', 2, far),
    ];
    expect(entries[4]![1]).toBe(`2|${far}`);
    await redis
      .multi()
      .hset(`${p}meta`, { kind: 'GROUP', lv: INDEX_LAYOUT, last_seq: '3', rev: 'f.1' })
      .hset(`${p}meta`, { 'm:ann': '1', 'm:bo': '1', 'm:cy': '1', 'r:ann': '3', 'd:ann': '3' })
      .hset(`${p}meta`, { 'r:bo': '3', 'd:bo': '3', 'r:cy': '2', 'd:cy': '2' })
      // m1 indexed by an older build (sent_at in decimal), m2 and m3 by this one (base 36).
      .zadd(`${p}ix`, 1, '2:m1|ann|1000', 2, indexEntry('m2', 'ann', '1100'))
      .zadd(`${p}ix`, 3, indexEntry('m3', 'ann', '1200'))
      .zadd(`${p}log:bo`, ...entries.slice(0, 3).flat())
      .zadd(`${p}log:cy`, ...entries.slice(3).flat())
      .exec();
    const source = new RedisReceiptDetails(redis, keys);
    const rows = async (messageId: string) => {
      const found = await source.lookup({ conversationId: 'forms', messageId, viewer: 'ann' });
      if (found.status !== 'found') throw new Error(found.status);
      return found.recipients.map((r) => [r.userId, r.readAt, r.deliveredAt]);
    };
    expect(await rows('m1')).toEqual([
      ['bo', 2_000, 1_500],
      ['cy', far, 1_700],
    ]);
    expect(await rows('m3')).toEqual([
      ['bo', 2_000, 1_500],
      ['cy', null, null],
    ]);
    // Each index entry's time, in either form.
    for (const [messageId, sentAt] of [
      ['m1', 1_000],
      ['m2', 1_100],
      ['m3', 1_200],
    ] as const)
      expect(
        await source.lookup({ conversationId: 'forms', messageId, viewer: 'bo' }),
      ).toMatchObject({ status: 'found', message: { sentAt, senderId: 'ann' } });
  });

  it('dates moves from logs in fields: meta for a direct chat, `log` for a group, over several chunks', async () => {
    // bo's moves: 40, enough for several chunks (l1:bo, l2:bo, …, l:bo); cy's: two.
    const boMoves: LogMove[] = [];
    for (let seq = 1; seq <= 40; seq++)
      boMoves.push(
        { which: 'delivered', seq, at: 100_000 * seq },
        { which: 'read', seq, at: 100_000 * seq + 7_000 },
      );
    const bo = logFields('bo', boMoves);
    expect(Object.keys(bo).length).toBeGreaterThan(3);
    const cy = logFields('cy', [
      { which: 'delivered', seq: 10, at: 55 },
      { which: 'read', seq: 30, at: 66 },
    ]);
    for (const kind of ['DIRECT', 'GROUP'] as const) {
      const p = keys.conversation(`fields-${kind}`);
      const members = kind === 'DIRECT' ? ['bo', 'cy'] : ['ann', 'bo', 'cy'];
      const multi = redis
        .multi()
        .hset(`${p}meta`, { kind, lv: PACKED_LOG_LAYOUT, last_seq: '40', rev: `f.${kind}` })
        .hset(`${p}meta`, { 'r:bo': '40', 'd:bo': '40', 'r:cy': '30', 'd:cy': '30' });
      for (const m of members) multi.hset(`${p}meta`, MetaField.member(m), '1');
      for (let seq = 1; seq <= 40; seq++)
        multi.zadd(`${p}ix`, seq, indexEntry(`m${seq}`, 'ann', String(seq)));
      multi.hset(kind === 'DIRECT' ? `${p}meta` : `${p}log`, { ...bo, ...cy });
      await multi.exec();
      const row = async (userId: string, messageId: string) => {
        const found = await new RedisReceiptDetails(redis, keys).lookup({
          conversationId: `fields-${kind}`,
          messageId,
          viewer: userId === 'bo' ? 'cy' : 'bo',
        });
        if (found.status !== 'found') throw new Error(found.status);
        const r = found.recipients.find((x) => x.userId === userId)!;
        return [r.readAt, r.deliveredAt];
      };
      expect({ kind, m1: await row('bo', 'm1') }).toEqual({ kind, m1: [107_000, 100_000] });
      expect({ kind, m23: await row('bo', 'm23') }).toEqual({
        kind,
        m23: [2_307_000, 2_300_000],
      });
      // cy: delivered up to 10 at 55; read up to 30 at 66 (which delivered 11–30 then).
      expect({ kind, m5: await row('cy', 'm5') }).toEqual({ kind, m5: [66, 55] });
      expect({ kind, m20: await row('cy', 'm20') }).toEqual({ kind, m20: [66, 66] });
    }
  });

  it("reads an older build's readlog/dlvlog and dlv:<id> keys until the conversation says it has none", async () => {
    // Written by a build before 'log:<user>': meta without 'lv', the logs in keys of their own;
    // bo's moves to seq 1 came before the upgrade, to seq 2 after it (in the one log key).
    const p = keys.conversation('older');
    await redis
      .multi()
      .hset(`${p}meta`, { kind: 'GROUP', last_seq: '2', 'm:ann': '1', 'm:bo': '1', 'm:cy': '1' })
      .hset(`${p}meta`, { 'r:ann': '2', 'd:ann': '2', 'r:bo': '2', 'd:bo': '2' })
      .hset(`${p}msg`, { m1: '1|ann|1000', m2: '2|ann|1100' })
      .zadd(`${p}msgs`, 1, 'm1', 2, 'm2')
      .zadd(`${p}readlog:bo`, 1, '1|2000')
      .zadd(`${p}dlvlog:bo`, 1, '1|1500')
      .zadd(`${p}log:bo`, 2, '2|3000', -2, '-2|2500')
      // cy confirmed m1 by id before the upgrade (a hash per message), m2 after it.
      .hset(`${p}dlv:m1`, 'cy', '1200')
      .hset(`${p}dlv`, deliveredByField('m2', 'cy'), '1300')
      .exec();
    const source = new RedisReceiptDetails(redis, keys);
    const rowOf = async (userId: string, messageId: string) => {
      const found = await source.lookup({ conversationId: 'older', messageId, viewer: 'ann' });
      if (found.status !== 'found') throw new Error(found.status);
      const row = found.recipients.find((r) => r.userId === userId)!;
      return [row.readAt, row.deliveredAt];
    };
    expect(await rowOf('bo', 'm1')).toEqual([2_000, 1_500]);
    expect(await rowOf('bo', 'm2')).toEqual([3_000, 2_500]);
    expect(await rowOf('cy', 'm1')).toEqual([null, 1_200]);
    expect(await rowOf('cy', 'm2')).toEqual([null, 1_300]);
    // A conversation created in today's layout has no such keys: they are not read.
    await redis.hset(`${p}meta`, MetaField.layout, LOG_LAYOUT, MetaField.revision, 'w.4');
    expect(await rowOf('bo', 'm1')).toEqual([3_000, 2_500]);
    expect(await rowOf('cy', 'm1')).toEqual([null, null]);
    expect(await rowOf('cy', 'm2')).toEqual([null, 1_300]);
  });
});
