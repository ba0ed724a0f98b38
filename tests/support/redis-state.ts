import { loadConfig } from '../../config/config';
import { connectRedis, type RedisClient } from '../../stores/redis/connect';
import type { RedisKeys } from '../../stores/redis/keys';
import { runQueued, type Queued } from '../../stores/redis/pipeline';
import { scanKeys } from './harness';

/** The configuration's main and auxiliary Redis (the local stack's by default), connected. */
export async function connectMainAndAux(): Promise<{ main: RedisClient; aux: RedisClient }> {
  const config = loadConfig();
  const main = await connectRedis(config.redis.main, 'main');
  const aux = await connectRedis(config.redis.aux, 'auxiliary');
  return { main, aux };
}

/** Runs one queued store call in its own round trip and returns its parsed reply. */
export async function runOne<T>(redis: RedisClient, call: Queued<T>): Promise<T> {
  const [reply] = await runQueued(redis, [call]);
  return reply!;
}

/**
 * Every key of one conversation, by its suffix ('meta', 'read', 'msgs', …), with its content:
 * what the store's scripts left, to compare two ways of applying the same events. meta's
 * 'touched' (the server clock at the last expiry refresh) is left out; sets come sorted.
 */
export async function conversationState(
  redis: RedisClient,
  keys: RedisKeys,
  conversationId: string,
): Promise<Record<string, unknown>> {
  const prefix = keys.conversation(conversationId);
  const found = (await scanKeys(redis, `${prefix}*`)).sort();
  const state: Record<string, unknown> = {};
  for (const key of found) {
    const name = key.slice(prefix.length);
    const type = await redis.type(key);
    if (type === 'hash') {
      const h = await redis.hgetall(key);
      delete h.touched;
      state[name] = h;
    } else if (type === 'zset') state[name] = await redis.zrange(key, '0', '-1', 'WITHSCORES');
    else if (type === 'set') state[name] = (await redis.smembers(key)).sort();
    else state[name] = type;
  }
  return state;
}
