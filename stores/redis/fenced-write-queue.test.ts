import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../config/config';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import type { Redis } from 'ioredis';
import { connectRedis, isCluster, type RedisClient } from './connect';
import { FencedWriteQueue } from './fenced-write-queue';
import { RedisKeys } from './keys';
import { LeaseLostError, type WriteFence } from './partition-lease';
import { RedisCommandError } from './pipeline';

/**
 * Write-behinds of several partitions queued in one turn of the event loop go in one script
 * call, each under its own fence (real Redis): each caller hears of its own only.
 */
describe('FencedWriteQueue (real Redis)', () => {
  const keys = new RedisKeys(`t${randomBytes(4).toString('hex')}fq`);
  const fence = (partition: number): WriteFence => ({
    leaseKey: keys.partitionLease(partition),
    owner: 'me',
  });
  const key = (name: string) => keys.conversationKey(name, 'meta');
  const json = (...commands: string[][]) => JSON.stringify(commands);
  let redis: RedisClient;

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
  });
  afterAll(async () => {
    await deleteKeys(redis, await scanKeys(redis, keys.all()));
    redis.disconnect();
  });

  it('sends those queued together in one call (a count or the replies each); a lost lease or a failing command fails only its own', async () => {
    const queue = new FencedWriteQueue(redis);
    await redis.set(keys.partitionLease(1), 'me', 'PX', 10_000);
    await redis.set(keys.partitionLease(2), 'another', 'PX', 10_000); // taken from this writer
    await redis.set(keys.partitionLease(3), 'me', 'PX', 10_000);
    await redis.set(key('string'), 'not a hash');
    const calls = jest.spyOn(redis, 'applyFencedWrites');
    const results = await Promise.allSettled([
      queue.apply(fence(1), json(['hset', key('a'), 'x', '1'], ['hset', key('a'), 'y', '2'])),
      queue.apply(fence(2), json(['hset', key('b'), 'x', '1'])),
      queue.apply(
        fence(3),
        json(
          ['hset', key('c'), 'x', '1'],
          ['hset', key('string'), 'x', '1'],
          ['hset', key('c'), 'z', '1'],
        ),
      ),
      queue.apply(fence(1), json(['hset', key('a'), 'x', '3'])),
      queue.applyForReplies(
        fence(1),
        json(['hset', key('e'), 'x', '1', 'y', '2'], ['hlen', key('e')]),
      ),
    ]);
    expect(calls).toHaveBeenCalledTimes(isCluster(redis) ? 0 : 1);
    calls.mockRestore();
    expect(results[0]).toEqual({ status: 'fulfilled', value: 2 });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: expect.any(LeaseLostError) });
    expect(results[2]).toMatchObject({ status: 'rejected', reason: expect.any(RedisCommandError) });
    expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    expect(results[3]).toEqual({ status: 'fulfilled', value: 1 });
    expect(results[4]).toEqual({ status: 'fulfilled', value: [2, 2] });
    // In the order queued; nothing of the lost lease's; the failing one's commands up to the failure.
    expect(await redis.hgetall(key('a'))).toEqual({ x: '3', y: '2' });
    expect(await redis.exists(key('b'))).toBe(0);
    expect(await redis.hgetall(key('c'))).toEqual({ x: '1' });
  });

  it("reads each partition's lease once per call, however many of its write-behinds it carries", async () => {
    if (isCluster(redis)) return; // each is a call of its own there (apply-writes-1.lua)
    const queue = new FencedWriteQueue(redis);
    await redis.set(keys.partitionLease(5), 'me', 'PX', 10_000);
    await redis.set(keys.partitionLease(6), 'me', 'PX', 10_000);
    const monitor = await (redis as Redis).monitor();
    const leaseReads: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      const leases = [keys.partitionLease(5), keys.partitionLease(6)];
      if (args[0]?.toLowerCase() === 'get' && leases.includes(args[1]!)) leaseReads.push(args[1]!);
    });
    await redis.ping(); // MONITOR is on before the call
    const counts = await Promise.all([
      queue.apply(fence(5), json(['hset', key('f'), 'x', '1'])),
      queue.apply(fence(6), json(['hset', key('g'), 'x', '1'])),
      queue.apply(fence(5), json(['hset', key('f'), 'y', '1'])),
      queue.apply(fence(5), json(['hset', key('f'), 'z', '1'])),
    ]);
    await redis.ping();
    await new Promise((resolve) => setTimeout(resolve, 50)); // the monitor's feed is behind
    monitor.disconnect();
    expect(counts).toEqual([1, 1, 1, 1]);
    expect(await redis.hgetall(key('f'))).toEqual({ x: '1', y: '1', z: '1' });
    expect(leaseReads.sort()).toEqual([keys.partitionLease(5), keys.partitionLease(6)]);
  });

  it('sends one queued alone as a plain fenced call, and one of a later turn in a call of its own', async () => {
    const queue = new FencedWriteQueue(redis);
    await redis.set(keys.partitionLease(4), 'me', 'PX', 10_000);
    const calls = jest.spyOn(redis, 'applyFencedWrites');
    expect(await queue.apply(fence(4), json(['hset', key('d'), 'x', '1']))).toBe(1);
    await redis.del(keys.partitionLease(4)); // run out
    await expect(queue.apply(fence(4), json(['hset', key('d'), 'x', '2']))).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    expect(calls).not.toHaveBeenCalled();
    calls.mockRestore();
    expect(await redis.hget(key('d'), 'x')).toBe('1');
  });
});
