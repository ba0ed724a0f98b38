import { Redis } from 'ioredis';

export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  readonly retriable = true;
}

export interface ConnectRedisOptions {
  timeoutMs?: number;
  /**
   * The connection's name on the server (CLIENT SETNAME, sent again on every reconnect), so
   * CLIENT LIST tells which process a connection is; no spaces.
   */
  name?: string;
}

/**
 * Connects and PINGs, so a wrong URL fails at start with the variable to fix rather than with
 * commands queuing forever.
 */
export async function connectRedis(
  url: string,
  role: 'main' | 'auxiliary',
  { timeoutMs = 5000, name }: ConnectRedisOptions = {},
): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 3,
    enableAutoPipelining: false,
    connectionName: name,
  });
  redis.on('error', () => undefined); // reported through failed commands, not as an unhandled event
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    const variable = role === 'main' ? 'TICKS_REDIS_URL' : 'TICKS_AUX_REDIS_URL';
    throw new RedisUnavailableError(
      `${role} Redis not reachable at ${url} — run \`npm run stack:up\` (or check ${variable}): ${(err as Error).message}`,
      { cause: err },
    );
  }
  return redis;
}
