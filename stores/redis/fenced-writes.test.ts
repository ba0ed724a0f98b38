import { randomBytes } from 'node:crypto';
import { connectMainAndAux } from '../../tests/support/redis-state';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { type RedisClient } from './connect';
import { sendFenced } from './fenced-writes';
import { RedisKeys } from './keys';
import { LeaseLostError, type WriteFence } from './partition-lease';
import { PartitionIndex } from './partition-index';
import { ReadModel } from './read-model';
import { UserStore } from './user-store';

/**
 * Mid-step writes fenced in Redis (real Redis): a process checks its lease before it writes, but
 * may stall between that check and the bytes reaching Redis (a SIGSTOP did, in
 * tests/rebalance.test.ts). Each write here carries the lease's owner and lands only while the
 * lease key names it — proven by a writer whose lease another process took meanwhile. (The
 * conversation lists and the window and held indexes go with the step's write-behind, fenced
 * as the state is: conversation-states.test.ts.)
 */
describe('fenced mid-step writes (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}fw`;
  const keys = new RedisKeys(prefix);
  const lease = keys.partitionLease(3);
  const fence = (partition: number): WriteFence => ({
    leaseKey: keys.partitionLease(partition),
    owner: 'me',
  });
  let main: RedisClient;
  let aux: RedisClient;

  beforeAll(async () => {
    ({ main, aux } = await connectMainAndAux());
  });
  afterAll(async () => {
    for (const redis of [main, aux]) {
      await deleteKeys(redis, await scanKeys(redis, keys.all()));
      redis.disconnect();
    }
  });

  it('sendFenced runs the commands and returns their replies while the lease names the writer; else writes nothing', async () => {
    const key = `${prefix}:{u:a}:h`;
    await main.set(lease, 'me', 'PX', 10_000);
    const replies = await sendFenced(
      main,
      [
        ['hset', key, 'x', '1'],
        ['hset', key, 'x', '2'],
        ['hlen', key],
      ],
      fence(3),
    );
    expect(replies).toEqual([1, 0, 1]);

    await main.set(lease, 'next', 'PX', 10_000); // taken by another process while this one stalled
    await expect(sendFenced(main, [['hset', key, 'y', '1']], fence(3))).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    await main.del(lease); // run out
    await expect(sendFenced(main, [['hset', key, 'z', '1']], fence(3))).rejects.toThrow(
      /is not held by me/,
    );
    expect(await main.hgetall(key)).toEqual({ x: '2' });
    // Unfenced (no leases, as in a single-process tool): written.
    expect(await sendFenced(main, [['hset', key, 'w', '1']])).toEqual([1]);
  });

  it("a partition's badge writes land only under its lease", async () => {
    const store = new UserStore(main, aux, keys, 600, 60, fence);
    await main.set(lease, 'me', 'PX', 10_000);
    const written = await store.applyBadgeChanges(
      [{ op: 'add', userId: 'u1', source: 'g-1', kind: 'GROUP' }],
      { partition: 3, countsFor: ['u1'] },
    );
    expect(written.counts?.get('u1')).toBe(1);
    expect(written.changed.add).toBe(1);

    await main.set(lease, 'next', 'PX', 10_000);
    await expect(
      store.applyBadgeChanges([{ op: 'remove', userId: 'u1', source: 'g-1', kind: 'GROUP' }], {
        partition: 3,
      }),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect(await new ReadModel(main, keys).badge('u1')).toEqual(['g-1']);
  });

  it("a window close's index update (a punctuation's) lands only under the partition's lease", async () => {
    const windows = new PartitionIndex(main, keys, 'windows', fence);
    await main.set(lease, 'me', 'PX', 10_000);
    await windows.reschedule([{ partition: 3, conversationId: 'g-1' }], () => 5_000);
    await main.set(lease, 'next', 'PX', 10_000);
    await expect(
      windows.reschedule([{ partition: 3, conversationId: 'g-1' }], () => null),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect(await main.zrange(keys.openWindows(3), '0', '-1', 'WITHSCORES')).toEqual([
      'g-1',
      '5000',
    ]);
  });
});
