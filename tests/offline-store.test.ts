import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { loadConfig } from '../config/config';
import { connectRedis } from '../stores/redis/connect';
import { RedisKeys } from '../stores/redis/keys';
import { OfflineStore, type KeptUpdate } from '../stores/redis/offline-store';
import type { Queued } from '../stores/redis/pipeline';
import { scanKeys } from './support/harness';
import { runOne } from './support/redis-state';

/** The offline batcher's Redis scripts under redelivery: idempotent, and never losing a batch. */
describe('offline store (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  let redis: Redis;
  let store: OfflineStore;
  const kept = (field: string, rank: number, version: number): KeptUpdate => ({
    field,
    rank,
    version,
    value: `{"v":${version}}`,
  });
  const run = <T>(call: Queued<T>): Promise<T> => runOne(redis, call);

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.mainUrl, 'main');
    store = new OfflineStore(redis, new RedisKeys(prefix), 60);
  });
  afterAll(async () => {
    const keys = await scanKeys(redis, `${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
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
    const first = await run(store.presence('u1', 'ONLINE', 'phone', 'b1'));
    expect(first).toEqual({
      send: true,
      batchId: 'b1',
      values: [expect.stringMatching(/^2\|5\|/)],
    });
    // Redelivery of the same presence record (crash before the confirmation): same batch.
    expect(await run(store.presence('u1', 'ONLINE', 'phone', 'b1'))).toEqual(first);
    expect(await run(store.coalesce('u1', [kept('s:c:m2', 1, 30)]))).toBe('online');
    expect(await run(store.sent('u1', 'b1'))).toBe(true);
    expect(await run(store.presence('u1', 'ONLINE', 'laptop', 'b2'))).toEqual({ send: false });
    expect(await store.onlineDevices('u1')).toEqual(['laptop', 'phone']);
  });

  it('is offline only when the last device goes', async () => {
    await run(store.presence('u1', 'OFFLINE', 'phone', 'b3'));
    expect(await run(store.coalesce('u1', [kept('s:c:m3', 1, 40)]))).toBe('online');
    await run(store.presence('u1', 'OFFLINE', 'laptop', 'b4'));
    expect(await run(store.coalesce('u1', [kept('s:c:m3', 1, 40)]))).toBe(1);
    const back = await run(store.presence('u1', 'ONLINE', 'phone', 'b5'));
    expect(back).toMatchObject({
      send: true,
      batchId: 'b5',
      values: [expect.stringMatching(/^1\|40\|/)],
    });
  });
});
