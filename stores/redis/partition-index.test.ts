import { randomBytes } from 'node:crypto';
import type { RedisClient } from './connect';
import { loadConfig } from '../../config/config';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';
import { PartitionIndex } from './partition-index';
import { WriteSet } from '../state/write-set';
import { recordCommands } from '../../tests/support/round-trips';

/**
 * The partition index against the real main Redis: the owner answers from memory, writes every
 * change to Redis for the next owner, skips writes that change nothing, and reads the index
 * again after a reset (once the writes in flight at the reset are over).
 */
describe('PartitionIndex (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const keys = new RedisKeys(prefix);
  let redis: RedisClient;
  let n = 0;
  /** A fresh partition per test, so tests do not share index keys. */
  const partition = (): number => ++n;
  const stored = (p: number) => redis.zrange(keys.openWindows(p), '0', '-1', 'WITHSCORES');
  /** As a step schedules: into its write-behind, which is then flushed. */
  const schedule = async (
    index: PartitionIndex,
    entries: Parameters<PartitionIndex['schedule']>[0],
  ): Promise<void> => {
    const writes = new WriteSet();
    await index.schedule(entries, writes);
    await writes.flush(redis);
  };

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
  });
  afterAll(async () => {
    const found = await scanKeys(redis, keys.all());
    await deleteKeys(redis, found);
    redis.disconnect();
  });

  it('writes every change to Redis, where the next owner finds it', async () => {
    const p = partition();
    const owner = new PartitionIndex(redis, keys, 'windows');
    await schedule(owner, [
      { partition: p, conversationId: 'a', at: 100 },
      { partition: p, conversationId: 'b', at: 300 },
    ]);
    await owner.reschedule(
      [
        { partition: p, conversationId: 'a' },
        { partition: p, conversationId: 'b' },
        { partition: p, conversationId: 'c' },
      ],
      (c) => ({ a: null, b: 200 })[c], // c: left as it is (not there)
    );
    expect(await stored(p)).toEqual(['b', '200']);
    const next = new PartitionIndex(redis, keys, 'windows');
    expect(await next.due([p], 250)).toEqual([{ partition: p, conversationId: 'b', at: 200 }]);
  });

  it("writes a reschedule's changes of a partition in one ZADD and one ZREM (a window boundary closes many)", async () => {
    const [p, q] = [partition(), partition()];
    const owner = new PartitionIndex(redis, keys, 'windows');
    const ids = ['a', 'b', 'c', 'd', 'e'];
    await schedule(owner, [
      ...ids.map((conversationId) => ({ partition: p, conversationId, at: 100 })),
      { partition: q, conversationId: 'f', at: 100 },
    ]);
    const sent = recordCommands(redis);
    await owner.reschedule(
      [
        ...ids.map((conversationId) => ({ partition: p, conversationId })),
        { partition: q, conversationId: 'f' },
      ],
      (c) => ({ a: null, b: null, c: 300, d: 400, f: null })[c], // e: left as it is
    );
    jest.restoreAllMocks();
    expect(sent.map(([name]) => name).sort()).toEqual(['zadd', 'zrem', 'zrem']);
    expect(await stored(p)).toEqual(['e', '100', 'c', '300', 'd', '400']);
    expect(await stored(q)).toEqual([]);
  });

  it('decides a reschedule once the index is at hand: a change made meanwhile is not overwritten', async () => {
    const p = partition();
    await redis.zadd(keys.openWindows(p), 100, 'g');
    const index = new PartitionIndex(redis, keys, 'windows'); // not loaded: the first use reads
    // A close's hook: the window it closed is gone, unless a step opened another since.
    let open = false;
    const rescheduled = index.reschedule([{ partition: p, conversationId: 'g' }], () =>
      open ? 2_100 : null,
    );
    open = true; // a step opens the window again while the index is being read
    await rescheduled;
    expect(await stored(p)).toEqual(['g', '2100']);
    expect(await index.due([p], 2_100)).toEqual([{ partition: p, conversationId: 'g', at: 2_100 }]);
    // Asked again for what memory holds: nothing is written (another writer's change stays).
    await redis.zadd(keys.openWindows(p), 2_500, 'g');
    await index.reschedule([{ partition: p, conversationId: 'g' }], () => 2_100);
    expect(await stored(p)).toEqual(['g', '2500']);
  });

  it('keeps the earlier time of an entry, and does not write what changes nothing', async () => {
    const p = partition();
    const index = new PartitionIndex(redis, keys, 'windows');
    await schedule(index, [{ partition: p, conversationId: 'g', at: 100 }]);
    // Another writer's change is invisible to the owner's memory: a write would restore it.
    await redis.zadd(keys.openWindows(p), 150, 'g');
    await schedule(index, [{ partition: p, conversationId: 'g', at: 120 }]);
    expect(await stored(p)).toEqual(['g', '150']); // nothing written: memory knew 100 ≤ 120
    await schedule(index, [{ partition: p, conversationId: 'g', at: 90 }]);
    expect(await stored(p)).toEqual(['g', '90']);
  });

  it('answers from memory, and reads Redis again after a reset once its writes in flight are over', async () => {
    const p = partition();
    await redis.zadd(keys.openWindows(p), 100, 'x', 500, 'y');
    const index = new PartitionIndex(redis, keys, 'windows');
    expect(await index.due([p], 200)).toEqual([{ partition: p, conversationId: 'x', at: 100 }]);
    await redis.zadd(keys.openWindows(p), 150, 'z'); // not by the owner: memory does not know it
    expect((await index.due([p], 200)).map((e) => e.conversationId)).toEqual(['x']);

    let settle!: () => void;
    index.resetPartition(p, new Promise<void>((r) => (settle = r)));
    const due = index.due([p], 200);
    await redis.zadd(keys.openWindows(p), 160, 'w'); // lands before the reset settles
    settle();
    expect((await due).map((e) => e.conversationId)).toEqual(['x', 'z', 'w']);
  });

  it('orders due entries by time and caps them per partition', async () => {
    const p = partition();
    const q = partition();
    const index = new PartitionIndex(redis, keys, 'windows');
    await schedule(index, [
      { partition: p, conversationId: 'late', at: 30 },
      { partition: p, conversationId: 'early', at: 10 },
      { partition: p, conversationId: 'mid', at: 20 },
      { partition: q, conversationId: 'other', at: 5 },
    ]);
    expect(await index.due([p, q], 100, 2)).toEqual([
      { partition: p, conversationId: 'early', at: 10 },
      { partition: p, conversationId: 'mid', at: 20 },
      { partition: q, conversationId: 'other', at: 5 },
    ]);
  });
});
