import { randomBytes } from 'node:crypto';
import { connectMainAndAux } from '../../tests/support/redis-state';
import { deleteKeys, eventually, scanKeys } from '../../tests/support/harness';
import type { RedisClient } from './connect';
import { RedisKeys } from './keys';
import { LegacyBadgeScan } from './legacy-badges';

/**
 * The proof that retires the commands kept for older builds' badge hashes, against a real Redis
 * shared with other suites' keys: each test has a prefix of its own, so "none" is about it alone.
 */
describe('LegacyBadgeScan (real Redis)', () => {
  let redis: RedisClient;
  let aux: RedisClient;
  const scans: LegacyBadgeScan[] = [];
  const used: RedisKeys[] = [];
  /** A prefix of the test's own, its keys deleted after. */
  const fresh = () => {
    const keys = new RedisKeys(`t${randomBytes(4).toString('hex')}`);
    used.push(keys);
    return keys;
  };
  /** The key of an older build's badge hash (Ana's). */
  const olderHash = (keys: RedisKeys) => keys.legacyBadge('ana');
  const scan = (
    keys: RedisKeys,
    options: ConstructorParameters<typeof LegacyBadgeScan>[2] = {},
  ) => {
    const s = new LegacyBadgeScan(redis, keys, options);
    scans.push(s);
    return s;
  };
  beforeAll(async () => {
    ({ main: redis, aux } = await connectMainAndAux());
  });
  afterAll(async () => {
    for (const s of scans) s.stop();
    for (const keys of used) await deleteKeys(redis, await scanKeys(redis, keys.all()));
    redis.disconnect();
    aux.disconnect();
  });

  it('proves a keyspace without any, records the proof, and says so', async () => {
    const keys = fresh();
    await redis.set(`${keys.all().slice(0, -1)}{u:ana}:recent`, 'not a badge hash');
    const retired = jest.fn();
    const s = scan(keys, { onRetired: retired });
    expect(s.mayExist).toBe(true);
    await s.start();
    expect(s.mayExist).toBe(false);
    expect(retired).toHaveBeenCalledTimes(1);
    expect(await redis.hget(keys.layout(), 'badge-hashes')).toBe('none');
  });

  it('keeps them while one exists, and retires them on the walk after it is gone', async () => {
    const keys = fresh();
    await redis.hset(olderHash(keys), 'bo', '');
    const s = scan(keys, { rescanMs: 50 });
    await s.start();
    expect(s.mayExist).toBe(true);
    expect(await redis.hget(keys.layout(), 'badge-hashes')).toBeNull();
    await redis.del(olderHash(keys));
    await eventually('retired after the hash is gone', () => !s.mayExist, 5_000);
    expect(await redis.hget(keys.layout(), 'badge-hashes')).toBe('none');
  });

  it('trusts a recorded proof without walking the keyspace', async () => {
    const keys = fresh();
    await redis.hset(keys.layout(), 'badge-hashes', 'none');
    // A hash a walk would find: told none may exist all the same, it did not walk.
    await redis.hset(olderHash(keys), 'bo', '');
    const s = scan(keys);
    await s.start();
    expect(s.mayExist).toBe(false);
  });

  it('walks no more once stopped', async () => {
    const keys = fresh();
    await redis.hset(olderHash(keys), 'bo', '');
    const s = scan(keys, { rescanMs: 20 });
    await s.start();
    s.stop();
    await redis.del(olderHash(keys));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(s.mayExist).toBe(true);
  });
});
