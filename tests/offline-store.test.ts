import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../stores/redis/connect';
import { loadConfig } from '../config/config';
import { connectRedis } from '../stores/redis/connect';
import { RedisKeys } from '../stores/redis/keys';
import { OfflineStore, type KeptUpdate } from '../stores/redis/offline-store';
import type { Queued } from '../stores/redis/pipeline';
import { deleteKeys, scanKeys } from './support/harness';
import { runOne } from './support/redis-state';

/** The offline batcher's Redis scripts under redelivery: idempotent, and never losing a batch. */
describe('offline store (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  let redis: RedisClient;
  let store: OfflineStore;
  const kept = (field: string, rank: number, version: number): KeptUpdate => ({
    field,
    rank,
    version,
    value: `{"v":${version}}`,
  });
  const run = <T>(call: Queued<T>): Promise<T> => runOne(redis, call);
  const LEASE = 60_000;

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
    store = new OfflineStore(redis, new RedisKeys(prefix), 60);
  });
  afterAll(async () => {
    const keys = await scanKeys(redis, `${prefix}:*`);
    await deleteKeys(redis, keys);
    redis.disconnect();
  });

  it('keeps the latest per field; a redelivered or older update changes nothing', async () => {
    expect(await run(store.coalesce('u1', [kept('s:c:m1', 1, 10)]))).toBe(1);
    expect(await run(store.coalesce('u1', [kept('s:c:m1', 1, 10)]))).toBe(0);
    expect(await run(store.coalesce('u1', [kept('s:c:m1', 2, 5)]))).toBe(1); // READ beats DELIVERED
    expect(await run(store.coalesce('u1', [kept('s:c:m1', 1, 20)]))).toBe(0);
    expect(await store.keptCount('u1')).toBe(1);
  });

  it('hands the batch out again until it is confirmed, then forgets it', async () => {
    const first = await run(store.presence('u1', 'ONLINE', 'phone', 'b1', LEASE));
    expect(first).toEqual({
      send: true,
      batchId: 'b1',
      values: [expect.stringMatching(/^2\|5\|/)],
    });
    // Redelivery of the same presence record (crash before the confirmation): same batch.
    expect(await run(store.presence('u1', 'ONLINE', 'phone', 'b1', LEASE))).toEqual(first);
    expect(await run(store.coalesce('u1', [kept('s:c:m2', 1, 30)]))).toBe('online');
    expect(await run(store.sent('u1', 'b1'))).toBe(true);
    expect(await run(store.presence('u1', 'ONLINE', 'laptop', 'b2', LEASE))).toEqual({
      send: false,
    });
    expect(await store.onlineDevices('u1')).toEqual(['laptop', 'phone']);
  });

  it('is offline only when the last device goes', async () => {
    await run(store.presence('u1', 'OFFLINE', 'phone', 'b3', LEASE));
    expect(await run(store.coalesce('u1', [kept('s:c:m3', 1, 40)]))).toBe('online');
    await run(store.presence('u1', 'OFFLINE', 'laptop', 'b4', LEASE));
    expect(await run(store.coalesce('u1', [kept('s:c:m3', 1, 40)]))).toBe(1);
    const back = await run(store.presence('u1', 'ONLINE', 'phone', 'b5', LEASE));
    expect(back).toMatchObject({
      send: true,
      batchId: 'b5',
      values: [expect.stringMatching(/^1\|40\|/)],
    });
  });

  it('takes a device whose lease ended for offline (its gateway died): updates are kept, and sent when it comes back', async () => {
    const t0 = Date.now();
    await run(store.presence('u2', 'ONLINE', 'phone', 'c1', 1_000, t0));
    expect(await run(store.coalesce('u2', [kept('s:c:m9', 1, 50)], t0 + 500))).toBe('online');
    // A renewal before the end keeps it online; none after it: offline at t0 + 1500 + 1000.
    await run(store.presence('u2', 'ONLINE', 'phone', 'c2', 1_000, t0 + 500));
    expect(await run(store.coalesce('u2', [kept('s:c:m9', 1, 51)], t0 + 1_400))).toBe('online');
    expect(await store.onlineDevices('u2', t0 + 1_400)).toEqual(['phone']);
    expect(await store.onlineDevices('u2', t0 + 1_600)).toEqual([]);
    expect(await run(store.coalesce('u2', [kept('s:c:m9', 1, 52)], t0 + 1_600))).toBe(1);
    // The device connects again (another gateway): the kept update is its batch.
    expect(await run(store.presence('u2', 'ONLINE', 'phone', 'c3', 1_000, t0 + 5_000))).toEqual({
      send: true,
      batchId: 'c3',
      values: [expect.stringMatching(/^1\|52\|/)],
    });
  });
});
