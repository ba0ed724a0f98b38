import { randomBytes } from 'node:crypto';
import { connectMainAndAux } from '../../tests/support/redis-state';
import type { RedisClient } from './connect';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { RedisKeys } from './keys';
import { RedisCommandError } from './pipeline';
import { ReadModel } from './read-model';
import { DedupeMarkCache } from '../state/dedupe-mark-cache';
import { BADGE_SCORE, badgeMember } from './badge-entries';
import { UserStore, type BadgeChange, type ConversationIndexChange } from './user-store';
import { WriteSet } from '../state/write-set';
import { recordCommands, spyOnPipelines } from '../../tests/support/round-trips';

/**
 * The badge write path against the real main and auxiliary Redis: the tri-state aux mark
 * ('1' main has the source, '0' main lacks it, none unknown) dedupes adds and removes alike,
 * and a failure between steps never leaves a mark that contradicts the main Redis.
 * "Skipped" is proven behind the store's back: the test changes main directly, and a skipped
 * write leaves that change in place.
 */
describe('UserStore badge dedupe (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const keys = new RedisKeys(prefix);
  let main: RedisClient;
  let aux: RedisClient;
  let store: UserStore;
  let read: ReadModel;
  let n = 0;
  /** A fresh recipient per test, so tests do not share marks or badges. */
  const user = (): string => `u${++n}`;
  const add = (userId: string, source: string): BadgeChange => ({
    op: 'add',
    userId,
    source,
    kind: 'DIRECT',
  });
  const remove = (userId: string, source: string): BadgeChange => ({
    op: 'remove',
    userId,
    source,
    kind: 'DIRECT',
  });
  const mark = (userId: string, source: string): Promise<string | null> =>
    aux.get(keys.dedupeMark(source, userId));
  const inBadge = async (userId: string, source: string): Promise<boolean> =>
    (await read.badge(userId)).includes(source);
  /** Behind the store's back: a badge entry as the store writes it, or none. */
  const putInBadge = (userId: string, source: string) =>
    main.zadd(keys.userConversations(userId), BADGE_SCORE, badgeMember(source));
  const takeFromBadge = (userId: string, source: string) =>
    main.zrem(keys.userConversations(userId), badgeMember(source));

  beforeAll(async () => {
    ({ main, aux } = await connectMainAndAux());
    store = new UserStore(main, aux, keys, 600, 60);
    read = new ReadModel(main, keys);
  });
  afterEach(() => jest.restoreAllMocks());
  afterAll(async () => {
    for (const redis of [main, aux]) {
      const found = await scanKeys(redis, keys.all());
      await deleteKeys(redis, found);
      redis.disconnect();
    }
  });

  it('asks beforeWrite again before each write, after the reads it waited for: a throw writes nothing more', async () => {
    const u = user();
    await aux.set(keys.dedupeMark('A', u), '0'); // about to lie: deleted before the main write
    let lost = false;
    const mget = aux.mget.bind(aux);
    jest.spyOn(aux, 'mget').mockImplementation((async (...args: Parameters<typeof mget>) => {
      const reply = await mget(...args);
      lost = true; // the writer lost its right to write while it waited for the marks
      return reply;
    }) as typeof aux.mget);
    const beforeWrite = () => {
      if (lost) throw new Error('lease lost');
    };
    await expect(store.applyBadgeChanges([add(u, 'A')], { beforeWrite })).rejects.toThrow(
      'lease lost',
    );
    expect(await inBadge(u, 'A')).toBe(false);
    expect(await mark(u, 'A')).toBe('0');
  });

  it('writes main once for a source added twice', async () => {
    const u = user();
    expect(await store.applyBadgeChanges([add(u, 'A')])).toEqual({
      memoryHits: 0,
      auxHits: 0,
      misses: 1,
      mainWrites: { DIRECT: 1, GROUP: 0 },
      changed: { add: 1, remove: 0 },
      aux: 'ok',
    });
    expect(await inBadge(u, 'A')).toBe(true);
    expect(await mark(u, 'A')).toBe('1');
    expect(await main.ttl(keys.userConversations(u))).toBeGreaterThan(60);
    expect(await aux.ttl(keys.dedupeMark('A', u))).toBeGreaterThan(0);

    await takeFromBadge(u, 'A'); // behind the store's back: only a write would restore it
    expect(await store.applyBadgeChanges([add(u, 'A')])).toEqual({
      memoryHits: 0,
      auxHits: 1,
      misses: 0,
      mainWrites: { DIRECT: 0, GROUP: 0 },
      changed: { add: 0, remove: 0 },
      aux: 'ok',
    });
    expect(await inBadge(u, 'A')).toBe(false);
  });

  it('writes main once for a read-to-end removal repeated without an add between', async () => {
    const u = user();
    await store.applyBadgeChanges([add(u, 'A')]);
    expect(await store.applyBadgeChanges([remove(u, 'A')])).toEqual({
      memoryHits: 0,
      auxHits: 0,
      misses: 1,
      mainWrites: { DIRECT: 1, GROUP: 0 },
      changed: { add: 0, remove: 1 },
      aux: 'ok',
    });
    expect(await inBadge(u, 'A')).toBe(false);
    expect(await mark(u, 'A')).toBe('0');

    await putInBadge(u, 'A'); // behind the store's back: only a write would remove it
    expect(await store.applyBadgeChanges([remove(u, 'A')])).toEqual({
      memoryHits: 0,
      auxHits: 1,
      misses: 0,
      mainWrites: { DIRECT: 0, GROUP: 0 },
      changed: { add: 0, remove: 0 },
      aux: 'ok',
    });
    expect(await inBadge(u, 'A')).toBe(true);
  });

  it('puts a source back when it is added after a removal, and marks it 1', async () => {
    const u = user();
    await store.applyBadgeChanges([add(u, 'A')]);
    await store.applyBadgeChanges([remove(u, 'A')]);
    expect(await mark(u, 'A')).toBe('0');
    expect(await store.applyBadgeChanges([add(u, 'A')])).toEqual({
      memoryHits: 0,
      auxHits: 0,
      misses: 1,
      mainWrites: { DIRECT: 1, GROUP: 0 },
      changed: { add: 1, remove: 0 },
      aux: 'ok',
    });
    expect(await inBadge(u, 'A')).toBe(true);
    expect(await mark(u, 'A')).toBe('1');
  });

  it('deletes a stale 0 mark before the HSET: a failed main write leaves no mark', async () => {
    const u = user();
    await store.applyBadgeChanges([remove(u, 'A')]);
    expect(await mark(u, 'A')).toBe('0');
    // Crash between the aux DEL and the main write: the user's index of the wrong type fails ZADD.
    await main.set(keys.userConversations(u), 'not a set');
    await expect(store.applyBadgeChanges([add(u, 'A')])).rejects.toThrow(RedisCommandError);
    expect(await mark(u, 'A')).toBeNull(); // unknown, not a '0' that would lie after the HSET

    // The batch redone after the "crash": written, and marked.
    await main.del(keys.userConversations(u));
    expect(await store.applyBadgeChanges([add(u, 'A')])).toMatchObject({
      mainWrites: { DIRECT: 1, GROUP: 0 },
      aux: 'ok',
    });
    expect(await inBadge(u, 'A')).toBe(true);
    expect(await mark(u, 'A')).toBe('1');
  });

  it('deletes a 1 mark before the HDEL: a failed main write leaves no mark', async () => {
    const u = user();
    await store.applyBadgeChanges([add(u, 'A')]);
    await main.del(keys.userConversations(u));
    await main.set(keys.userConversations(u), 'not a set');
    await expect(store.applyBadgeChanges([remove(u, 'A')])).rejects.toThrow(RedisCommandError);
    expect(await mark(u, 'A')).toBeNull();

    await main.del(keys.userConversations(u));
    await putInBadge(u, 'A');
    expect(await store.applyBadgeChanges([remove(u, 'A')])).toMatchObject({
      mainWrites: { DIRECT: 1, GROUP: 0 },
      aux: 'ok',
    });
    expect(await inBadge(u, 'A')).toBe(false);
    expect(await mark(u, 'A')).toBe('0');
  });

  it('issues one HDEL for a source never added, then later removals are hits', async () => {
    const u = user();
    const mainPipelines = spyOnPipelines(main);
    expect(await store.applyBadgeChanges([remove(u, 'A')])).toEqual({
      memoryHits: 0,
      auxHits: 0,
      misses: 1,
      mainWrites: { DIRECT: 1, GROUP: 0 },
      changed: { add: 0, remove: 0 },
      aux: 'ok',
    });
    expect(mainPipelines).toHaveBeenCalledTimes(1);
    expect(await mark(u, 'A')).toBe('0');
    for (let i = 0; i < 3; i++)
      expect(await store.applyBadgeChanges([remove(u, 'A')])).toEqual({
        memoryHits: 0,
        auxHits: 1,
        misses: 0,
        mainWrites: { DIRECT: 0, GROUP: 0 },
        changed: { add: 0, remove: 0 },
        aux: 'ok',
      });
    expect(mainPipelines).toHaveBeenCalledTimes(1); // no main round trip at all for the hits
    expect(await inBadge(u, 'A')).toBe(false);
  });

  it('counts as real changes only the writes that changed a badge', async () => {
    const [u, v] = [user(), user()];
    // Marks the dedupe does not know: the badge already holds A, and lacks B.
    await putInBadge(u, 'A');
    const stats = await store.applyBadgeChanges([add(u, 'A'), add(u, 'C'), remove(v, 'B')]);
    expect(stats).toMatchObject({ misses: 3, mainWrites: { DIRECT: 3, GROUP: 0 } });
    expect(stats.changed).toEqual({ add: 1, remove: 0 }); // only C was not there yet
  });

  it('keeps the last change per (user, source) of a batch, in 4 round trips at most', async () => {
    const [u, v] = [user(), user()];
    // Marks before the batch: u/A '1', u/E '1', v/B '0'.
    await store.applyBadgeChanges([add(u, 'A'), add(u, 'E'), remove(v, 'B')]);
    const mget = jest.spyOn(aux, 'mget');
    const auxPipelines = spyOnPipelines(aux);
    const mainPipelines = spyOnPipelines(main);
    const stats = await store.applyBadgeChanges([
      add(u, 'E'), // '1': hit
      add(v, 'C'),
      remove(v, 'C'), // the last change wins: removal of a never-added source, miss
      add(u, 'A'),
      remove(u, 'A'), // over '1': mark deleted, HDEL, '0'
      remove(v, 'B'),
      add(v, 'B'), // over '0': mark deleted, HSET, '1'
    ]);
    expect(stats).toEqual({
      memoryHits: 0,
      auxHits: 1,
      misses: 3,
      mainWrites: { DIRECT: 3, GROUP: 0 },
      changed: { add: 1, remove: 1 },
      aux: 'ok',
    });
    expect(mget).toHaveBeenCalledTimes(1);
    expect(auxPipelines).toHaveBeenCalledTimes(2); // the stale-mark DELs, then the new marks
    expect(mainPipelines).toHaveBeenCalledTimes(1);
    expect(await read.badge(u)).toEqual(['E']);
    expect(await read.badge(v)).toEqual(['B']);
    const after = await aux.mget(
      ...[
        [u, 'A'],
        [u, 'E'],
        [v, 'B'],
        [v, 'C'],
      ].map(([r, s]) => keys.dedupeMark(s!, r!)),
    );
    expect(after).toEqual(['0', '1', '1', '0']);

    // Nothing stale: no DEL round trip.
    auxPipelines.mockClear();
    await store.applyBadgeChanges([add(v, 'D')]);
    expect(auxPipelines).toHaveBeenCalledTimes(1);
  });
  it('reads badge sizes after the writes, in the main round trip the writes take', async () => {
    const [u, v, w] = [user(), user(), user()];
    await store.applyBadgeChanges([add(u, 'A'), add(u, 'B'), add(v, 'C')]);
    const mainPipelines = spyOnPipelines(main);
    const stats = await store.applyBadgeChanges(
      [remove(u, 'A'), add(v, 'C') /* a hit */, add(v, 'D')],
      { countsFor: [u, v, w, u] },
    );
    expect(stats.counts).toEqual(
      new Map([
        [u, 1],
        [v, 2],
        [w, 0],
      ]),
    );
    expect(mainPipelines).toHaveBeenCalledTimes(1);
    // With nothing to write (all hits, or no changes), the sizes still come back.
    expect((await store.applyBadgeChanges([add(v, 'C')], { countsFor: [v] })).counts).toEqual(
      new Map([[v, 2]]),
    );
    expect((await store.applyBadgeChanges([], { countsFor: [u] })).counts).toEqual(
      new Map([[u, 1]]),
    );
  });

  it('hands the mark writes over when asked: main is written first, the marks follow', async () => {
    const u = user();
    let handed: Promise<void> | undefined;
    const stats = await store.applyBadgeChanges([add(u, 'A')], {
      deferMarks: (written) => (handed = written),
    });
    expect(stats.mainWrites.DIRECT).toBe(1);
    expect(await inBadge(u, 'A')).toBe(true);
    expect(handed).toBeDefined();
    await handed;
    expect(await mark(u, 'A')).toBe('1');
    // The next batch, on the same aux connection, sees the mark: a hit.
    expect(await store.applyBadgeChanges([add(u, 'A')])).toMatchObject({ auxHits: 1 });
  });

  it('a handed-over mark write that fails fails nothing: the pair stays unknown', async () => {
    const u = user();
    const realPipeline = aux.pipeline.bind(aux);
    let calls = 0;
    jest.spyOn(aux, 'pipeline').mockImplementation(() => {
      const pipe = realPipeline();
      if (++calls === 1)
        jest.spyOn(pipe, 'exec').mockResolvedValue([[new Error('aux down'), null]]);
      return pipe;
    });
    let handed: Promise<void> | undefined;
    await store.applyBadgeChanges([add(u, 'A')], { deferMarks: (written) => (handed = written) });
    await expect(handed).resolves.toBeUndefined();
    expect(await inBadge(u, 'A')).toBe(true);
    expect(await mark(u, 'A')).toBeNull(); // no mark: unknown, never a lie
  });

  describe('with the marks kept in memory (DedupeMarkCache)', () => {
    it('reads the aux Redis once per pair, then decides from memory', async () => {
      const u = user();
      const marks = new DedupeMarkCache(100, 60_000);
      const mget = jest.spyOn(aux, 'mget');
      expect(await store.applyBadgeChanges([add(u, 'A')], { memory: marks.of(0) })).toMatchObject({
        misses: 1,
      });
      expect(mget).toHaveBeenCalledTimes(1);
      // Behind the store's back: main loses the source, aux says nothing. Memory knows '1'.
      await takeFromBadge(u, 'A');
      await aux.del(keys.dedupeMark('A', u));
      expect(await store.applyBadgeChanges([add(u, 'A')], { memory: marks.of(0) })).toEqual({
        memoryHits: 1,
        auxHits: 0,
        misses: 0,
        mainWrites: { DIRECT: 0, GROUP: 0 },
        changed: { add: 0, remove: 0 },
        aux: 'ok',
      });
      expect(mget).toHaveBeenCalledTimes(1); // no aux read for a pair memory knows
      expect(await inBadge(u, 'A')).toBe(false); // skipped: the change behind its back stays
    });

    it('learns the marks it reads from the aux Redis', async () => {
      const u = user();
      await store.applyBadgeChanges([remove(u, 'A')]); // aux '0', written without memory
      const marks = new DedupeMarkCache(100, 60_000);
      expect(
        await store.applyBadgeChanges([remove(u, 'A')], { memory: marks.of(0) }),
      ).toMatchObject({ auxHits: 1, misses: 0 });
      expect(
        await store.applyBadgeChanges([remove(u, 'A')], { memory: marks.of(0) }),
      ).toMatchObject({ memoryHits: 1, auxHits: 0 });
    });

    it('a flip deletes the aux mark first, writes main, then remembers and marks the new state', async () => {
      const u = user();
      const marks = new DedupeMarkCache(100, 60_000);
      await store.applyBadgeChanges([add(u, 'A')], { memory: marks.of(0) });
      expect(
        await store.applyBadgeChanges([remove(u, 'A')], { memory: marks.of(0) }),
      ).toMatchObject({ misses: 1, mainWrites: { DIRECT: 1, GROUP: 0 } });
      expect(await inBadge(u, 'A')).toBe(false);
      expect(await mark(u, 'A')).toBe('0');
      expect(
        await store.applyBadgeChanges([remove(u, 'A')], { memory: marks.of(0) }),
      ).toMatchObject({ memoryHits: 1 });
    });

    it('deletes the stale marks memory knows in the round trip that reads the unknown ones', async () => {
      const [u, v] = [user(), user()];
      const marks = new DedupeMarkCache(100, 60_000);
      await store.applyBadgeChanges([add(u, 'A'), remove(u, 'B')], { memory: marks.of(0) });
      const mget = jest.spyOn(aux, 'mget');
      const auxPipelines = spyOnPipelines(aux);
      let auxRoundTripsAtMainWrite = -1;
      const stats = await store.applyBadgeChanges(
        [remove(u, 'A'), add(u, 'B'), add(v, 'C')], // two flips memory knows, one pair it does not
        {
          memory: marks.of(0),
          beforeWrite: () => {
            auxRoundTripsAtMainWrite = auxPipelines.mock.calls.length + mget.mock.calls.length;
          },
        },
      );
      expect(stats).toMatchObject({ memoryHits: 0, misses: 3, aux: 'ok' });
      // One aux round trip before the main write (the read and the deletes), where it was two.
      expect(auxRoundTripsAtMainWrite).toBe(1);
      expect(mget).not.toHaveBeenCalled(); // the read went in the pipeline
      expect(await read.badge(u)).toEqual(['B']);
      expect(await inBadge(v, 'C')).toBe(true);
      expect([await mark(u, 'A'), await mark(u, 'B'), await mark(v, 'C')]).toEqual(['0', '1', '1']);
      // With only memory-known flips, no read at all: the deletes alone.
      auxPipelines.mockClear();
      await store.applyBadgeChanges([add(u, 'A')], { memory: marks.of(0) });
      expect(auxPipelines).toHaveBeenCalledTimes(2); // the deletes, then the new mark
      expect(mget).not.toHaveBeenCalled();
      expect(await mark(u, 'A')).toBe('1');
    });

    it('forgets a partition on reset: its pairs are read from the aux Redis again', async () => {
      const u = user();
      const marks = new DedupeMarkCache(100, 60_000);
      await store.applyBadgeChanges([add(u, 'A')], { memory: marks.of(3) });
      // Another owner of partition 3 removed the source meanwhile (and marked it).
      await takeFromBadge(u, 'A');
      await aux.set(keys.dedupeMark('A', u), '0');
      marks.resetPartition(3);
      expect(await store.applyBadgeChanges([add(u, 'A')], { memory: marks.of(3) })).toMatchObject({
        memoryHits: 0,
        misses: 1,
      });
      expect(await inBadge(u, 'A')).toBe(true);
    });

    it('a step that began before a reset remembers nothing after it', async () => {
      const u = user();
      const marks = new DedupeMarkCache(100, 60_000);
      const before = marks.of(1);
      marks.resetPartition(1);
      await store.applyBadgeChanges([add(u, 'A')], { memory: before });
      expect(marks.size).toBe(0);
    });
  });

  it('sends no command for older badge hashes once none may exist (LegacyBadgeScan proved it)', async () => {
    const retired = new UserStore(main, aux, keys, 600, 60, undefined, { mayExist: false });
    const sent = recordCommands(main);
    const removeAndCount = async (via: UserStore, u: string) => {
      await putInBadge(u, 'A');
      await putInBadge(u, 'B');
      sent.length = 0;
      const stats = await via.applyBadgeChanges([remove(u, 'A')], { countsFor: [u] });
      return { stats, sent: sent.map(([name]) => name) };
    };

    const [u, v] = [user(), user()];
    const asBefore = await removeAndCount(store, u);
    expect(asBefore.sent).toEqual(['scard', 'zrem', 'hdel', 'zcount', 'hlen']);
    const now = await removeAndCount(retired, v);
    expect(now.sent).toEqual(['scard', 'zrem', 'zcount']);
    for (const { stats } of [asBefore, now]) expect(stats.changed).toEqual({ add: 0, remove: 1 });
    expect(now.stats.counts).toEqual(new Map([[v, 1]]));
    expect(await read.badge(v)).toEqual(['B']);
  });
});

/**
 * Each user's conversations by latest message (queueConversationIndex, read by the query API)
 * and badge: one small sorted set, in Redis's compact listpack form (badge-entries.ts).
 */
describe('UserStore conversation list (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const keys = new RedisKeys(prefix);
  let main: RedisClient;
  let aux: RedisClient;
  let store: UserStore;
  let read: ReadModel;

  beforeAll(async () => {
    ({ main, aux } = await connectMainAndAux());
    store = new UserStore(main, aux, keys, 600, 60);
    read = new ReadModel(main, keys);
  });
  afterAll(async () => {
    for (const redis of [main, aux]) {
      await deleteKeys(redis, await scanKeys(redis, keys.all()));
      redis.disconnect();
    }
  });
  /** As a step writes them: into its write-behind, which is then flushed. */
  const updateIndex = async (changes: ConversationIndexChange[]): Promise<void> => {
    const writes = new WriteSet();
    store.queueConversationIndex(writes, changes);
    await writes.flush(main);
  };

  it('lists, moves and unlists conversations by latest message, kept compact and expiring', async () => {
    await updateIndex([
      { op: 'add', userId: 'u1', conversationId: 'dm-1', lastAt: 1_000 },
      { op: 'add', userId: 'u1', conversationId: 'g-2', lastAt: 0 },
      { op: 'add', userId: 'u1', conversationId: 'g-2', lastAt: 0 }, // a redelivery adds nothing
      { op: 'add', userId: 'u1', conversationId: 'g-3', lastAt: 500 },
      { op: 'add', userId: 'u2', conversationId: 'dm-1', lastAt: 1_000 },
    ]);
    expect(await read.conversations('u1')).toEqual(['dm-1', 'g-3', 'g-2']);
    await updateIndex([
      { op: 'remove', userId: 'u1', conversationId: 'dm-1' },
      { op: 'move', userId: 'u1', conversationId: 'g-2', lastAt: 2_000, refreshExpiry: false },
      // Not listed by u3 (a member by sending only): a move does not list it.
      { op: 'move', userId: 'u3', conversationId: 'g-2', lastAt: 2_000, refreshExpiry: true },
    ]);

    expect(await read.conversations('u1')).toEqual(['g-2', 'g-3']);
    expect(await read.conversations('u2')).toEqual(['dm-1']);
    expect(await read.conversations('u3')).toEqual([]);
    const key = keys.userConversations('u1');
    expect(await main.object('ENCODING', key)).toBe('listpack');
    expect(await main.ttl(key)).toBeGreaterThan(500);
  });

  it('keeps the badge in the index, after the conversations: a group is a conversation and a source', async () => {
    await updateIndex([
      { op: 'add', userId: 'u4', conversationId: 'g-1', lastAt: 1_000 },
      { op: 'add', userId: 'u4', conversationId: 'dm-2', lastAt: 0 },
    ]);
    const stats = await store.applyBadgeChanges(
      [
        { op: 'add', userId: 'u4', source: 'peer', kind: 'DIRECT' },
        { op: 'add', userId: 'u4', source: 'g-1', kind: 'GROUP' },
      ],
      { countsFor: ['u4'] },
    );
    expect(stats.changed).toEqual({ add: 2, remove: 0 });
    expect(stats.counts).toEqual(new Map([['u4', 2]]));
    expect(await read.badge('u4')).toEqual(['g-1', 'peer']);
    expect(await read.conversations('u4')).toEqual(['g-1', 'dm-2']);
    // One key for both, compact, expiring; no badge key of its own.
    const key = keys.userConversations('u4');
    expect(await main.zcard(key)).toBe(4);
    expect(await main.object('ENCODING', key)).toBe('listpack');
    expect(await main.ttl(key)).toBeGreaterThan(500);
    expect(await main.exists(keys.legacyBadge('u4'))).toBe(0);

    // The group's conversation moves and leaves; its badge entry is another member.
    await updateIndex([
      { op: 'move', userId: 'u4', conversationId: 'g-1', lastAt: 3_000, refreshExpiry: false },
    ]);
    expect(await read.badge('u4')).toEqual(['g-1', 'peer']);
    await updateIndex([{ op: 'remove', userId: 'u4', conversationId: 'g-1' }]);
    expect(await read.conversations('u4')).toEqual(['dm-2']);
    expect(await read.badge('u4')).toEqual(['g-1', 'peer']);
    await store.applyBadgeChanges([{ op: 'remove', userId: 'u4', source: 'g-1', kind: 'GROUP' }]);
    expect(await read.badge('u4')).toEqual(['peer']);
    expect(await read.conversations('u4')).toEqual(['dm-2']);
  });

  it('reads a badge an older build kept in a hash beside the index: each source counted once, removed from both', async () => {
    const older = keys.legacyBadge('u5');
    await main.hset(older, 'A', '', 'B', '', 'C', '');
    const mainPipelines = spyOnPipelines(main);
    const counts = async () =>
      (await store.applyBadgeChanges([], { countsFor: ['u5'] })).counts?.get('u5');
    expect(await read.badge('u5')).toEqual(['A', 'B', 'C']);
    expect(await counts()).toBe(3);

    // A (in the older hash) added again goes to the index only; D is new.
    await store.applyBadgeChanges([
      { op: 'add', userId: 'u5', source: 'A', kind: 'DIRECT' },
      { op: 'add', userId: 'u5', source: 'D', kind: 'DIRECT' },
    ]);
    expect((await main.hkeys(older)).sort()).toEqual(['A', 'B', 'C']);
    expect(await read.badge('u5')).toEqual(['A', 'B', 'C', 'D']);
    mainPipelines.mockClear();
    expect(await counts()).toBe(4); // A once, though in both
    expect(mainPipelines).toHaveBeenCalledTimes(2); // the counts, then the union's read

    // Removals reach either place.
    const removed = await store.applyBadgeChanges([
      { op: 'remove', userId: 'u5', source: 'A', kind: 'DIRECT' },
      { op: 'remove', userId: 'u5', source: 'B', kind: 'DIRECT' },
      { op: 'remove', userId: 'u5', source: 'E', kind: 'DIRECT' },
    ]);
    expect(removed.changed).toEqual({ add: 0, remove: 2 });
    expect(await read.badge('u5')).toEqual(['C', 'D']);
    expect(await counts()).toBe(2);
    expect(await main.hkeys(older)).toEqual(['C']);

    // Once the older hash is gone, a size is the index's count alone: no read after the counts.
    await store.applyBadgeChanges([{ op: 'remove', userId: 'u5', source: 'C', kind: 'DIRECT' }]);
    expect(await main.exists(older)).toBe(0);
    mainPipelines.mockClear();
    expect(await counts()).toBe(1);
    expect(mainPipelines).toHaveBeenCalledTimes(1);
  });
});
