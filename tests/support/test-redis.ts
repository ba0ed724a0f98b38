import { loadConfig } from '../../config/config';
import { connectRedis, type RedisClient } from '../../stores/redis/connect';
import { deleteKeys, scanKeys } from './harness';

/**
 * The main Redis of the local stack for one describe block: connected before its tests; after
 * them, the keys under `prefix` are deleted and the connection closed.
 */
export function mainRedisFor(prefix: string): { readonly client: RedisClient } {
  let client: RedisClient | undefined;
  beforeAll(async () => {
    client = await connectRedis(loadConfig().redis.main, 'main');
  });
  afterAll(async () => {
    if (!client) return;
    await deleteKeys(client, await scanKeys(client, `${prefix}:*`));
    client.disconnect();
  });
  return {
    get client(): RedisClient {
      if (!client) throw new Error('mainRedisFor: used outside the tests of its describe block');
      return client;
    },
  };
}
