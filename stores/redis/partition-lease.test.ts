import { randomBytes } from 'node:crypto';
import type { RedisClient } from './connect';
import { loadConfig } from '../../config/config';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';
import { PartitionLeases } from './partition-lease';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Partition leases against the real main Redis: one holder at a time, kept by renewals, lost
 * when they stop (locally at send time + ttl − margin, in Redis at ttl), handed over at once by
 * a release, and given up as soon as a renewal finds another holder.
 */
describe('PartitionLeases (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const keys = new RedisKeys(prefix);
  let redis: RedisClient;
  let n = 0;
  /** A fresh partition per test, so tests do not share leases. */
  const partition = (): number => ++n;
  const leases = (ttlMs: number, safetyMarginMs?: number) =>
    new PartitionLeases(redis, keys, { ttlMs, safetyMarginMs });

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
  });
  afterEach(() => jest.restoreAllMocks());
  afterAll(async () => {
    const found = await scanKeys(redis, keys.all());
    await deleteKeys(redis, found);
    redis.disconnect();
  });

  it('gives a partition to one process at a time, and the holder may acquire it again', async () => {
    const p = partition();
    const a = leases(10_000);
    const b = leases(10_000);
    expect(a.ownerId).not.toEqual(b.ownerId);
    expect(await a.acquire(p)).toBe(true);
    expect(await b.acquire(p)).toBe(false);
    expect(await a.acquire(p)).toBe(true);
    expect(a.holds(p)).toBe(true);
    expect(b.holds(p)).toBe(false);
    expect(await redis.get(keys.partitionLease(p))).toBe(a.ownerId);
    // Another partition is independent.
    expect(await b.acquire(partition())).toBe(true);
  });

  it('keeps a lease that is renewed past its ttl', async () => {
    const p = partition();
    const a = leases(400, 50);
    const b = leases(400, 50);
    expect(await a.acquire(p)).toBe(true);
    for (let i = 0; i < 6; i++) {
      await sleep(130);
      expect(await a.renew()).toEqual([]);
      expect(a.holds(p)).toBe(true);
    }
    // 780 ms after the acquire, about twice its ttl: still a's.
    expect(await b.acquire(p)).toBe(false);
    expect(await redis.pttl(keys.partitionLease(p))).toBeGreaterThan(0);
  });

  it('loses a lease that is not renewed: it runs out and another process takes it', async () => {
    const p = partition();
    const a = leases(300, 30);
    const b = leases(300, 30);
    expect(await a.acquire(p)).toBe(true);
    expect(await b.acquire(p)).toBe(false);
    await sleep(350);
    expect(a.holds(p)).toBe(false);
    expect(await b.acquire(p)).toBe(true);
    // a's renewal finds b's lease: lost, and b's lease is untouched.
    expect(await a.renew()).toEqual([p]);
    expect(a.partitions).toEqual([]);
    expect(await redis.get(keys.partitionLease(p))).toBe(b.ownerId);
    expect(b.holds(p)).toBe(true);
  });

  it('is valid until the send time + ttl − margin, however late the reply, even while Redis still has the key', async () => {
    const p = partition();
    const ttl = 60_000;
    const margin = 5_000;
    const a = leases(ttl, margin);
    // The clock reads 1 000 when the command is sent and 41 000 when its reply is handled.
    const clock = jest.spyOn(Date, 'now').mockReturnValue(1_000);
    const acquiring = a.acquire(p);
    clock.mockReturnValue(41_000);
    expect(await acquiring).toBe(true);
    clock.mockRestore();
    expect(a.holds(p, 1_000 + ttl - margin - 1)).toBe(true);
    expect(a.holds(p, 1_000 + ttl - margin)).toBe(false);
    // Redis still has the key (it expires a minute after the real send): it does not count.
    expect(await redis.pttl(keys.partitionLease(p))).toBeGreaterThan(ttl - 10_000);

    // On the real clock: valid until at most the send time + ttl − margin.
    const b = leases(1_000, 400);
    const q = partition();
    const before = Date.now();
    expect(await b.acquire(q)).toBe(true);
    const after = Date.now();
    expect(b.holds(q, before + 600 - 1)).toBe(true);
    expect(b.holds(q, after + 600)).toBe(false);
    await sleep(Math.max(0, after + 600 - Date.now()) + 20);
    expect(b.holds(q)).toBe(false);
    expect(await redis.get(keys.partitionLease(q))).toBe(b.ownerId);
  });

  it('a renewal is valid from its own send time, however late its reply', async () => {
    const p = partition();
    const a = leases(60_000, 5_000);
    expect(await a.acquire(p)).toBe(true);
    const sentAt = Date.now() + 10_000;
    const clock = jest.spyOn(Date, 'now').mockReturnValue(sentAt);
    const renewing = a.renew();
    clock.mockReturnValue(sentAt + 50_000);
    expect(await renewing).toEqual([]);
    clock.mockRestore();
    expect(a.holds(p, sentAt + 55_000 - 1)).toBe(true);
    expect(a.holds(p, sentAt + 55_000)).toBe(false);
  });

  it('a release lets the other process acquire at once, and never deletes another holder’s lease', async () => {
    const p = partition();
    const a = leases(60_000);
    const b = leases(60_000);
    expect(await a.acquire(p)).toBe(true);
    expect(await b.acquire(p)).toBe(false);
    await a.release(p);
    expect(a.holds(p)).toBe(false);
    expect(await b.acquire(p)).toBe(true);
    // a's release of a lease it no longer holds leaves b's alone.
    await a.release(p);
    expect(await redis.get(keys.partitionLease(p))).toBe(b.ownerId);
    expect(b.holds(p)).toBe(true);
  });

  it('a renewal that finds another holder marks the lease lost at once', async () => {
    const p = partition();
    const q = partition();
    const a = leases(60_000);
    expect(await a.acquire(p)).toBe(true);
    expect(await a.acquire(q)).toBe(true);
    // Someone else's id in the key (as after a's lease ran out and another process took it).
    await redis.set(keys.partitionLease(p), 'another-owner', 'PX', 60_000);
    expect(await a.renew()).toEqual([p]);
    expect(a.holds(p)).toBe(false);
    expect(a.holds(q)).toBe(true);
    expect(a.partitions).toEqual([q]);
    expect(await redis.get(keys.partitionLease(p))).toBe('another-owner');
    // A renewal finding the key gone (deleted behind its back) loses it too.
    await redis.del(keys.partitionLease(q));
    expect(await a.renew()).toEqual([q]);
    expect(a.holds(q)).toBe(false);
    expect(await redis.exists(keys.partitionLease(q))).toBe(0);
  });

  it('an acquire that finds another holder ends what this process believed it held', async () => {
    const p = partition();
    const a = leases(60_000);
    expect(await a.acquire(p)).toBe(true);
    await redis.set(keys.partitionLease(p), 'another-owner', 'PX', 60_000);
    expect(await a.acquire(p)).toBe(false);
    expect(a.holds(p)).toBe(false);
  });

  it('refuses a margin that leaves no validity', () => {
    expect(() => leases(1_000, 1_000)).toThrow(RangeError);
    expect(() => leases(0)).toThrow(RangeError);
  });
});
