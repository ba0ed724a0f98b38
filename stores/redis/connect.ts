import { Redis } from 'ioredis';
import { withoutPassword } from '../../config/redact';

export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  readonly retriable = true;
}

export interface ConnectOptions {
  timeoutMs?: number;
  /** A command not answered in this time fails (none: it waits for the server). */
  commandTimeoutMs?: number;
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
  options: ConnectOptions = {},
): Promise<Redis> {
  const redis = client(url, options, true);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    const variable = role === 'main' ? 'TICKS_REDIS_URL' : 'TICKS_AUX_REDIS_URL';
    throw new RedisUnavailableError(
      `${role} Redis not reachable at ${withoutPassword(url)} — run \`npm run stack:up\` (or check ${variable}): ${(err as Error).message}`,
      { cause: err },
    );
  }
  return redis;
}

/**
 * For a Redis the service can run without for a while (the auxiliary one: its marks are an
 * optimisation): connects as connectRedis does, but when the server does not answer, returns a
 * client that keeps connecting in the background, and says so through `onUnavailable`.
 */
export async function connectOptionalRedis(
  url: string,
  role: 'main' | 'auxiliary',
  options: ConnectOptions & { onUnavailable: (err: RedisUnavailableError) => void },
): Promise<Redis> {
  try {
    return await connectRedis(url, role, options);
  } catch (err) {
    if (!(err instanceof RedisUnavailableError)) throw err;
    options.onUnavailable(err);
    return client(url, options, false); // connects in the background, and again on every loss
  }
}

function client(url: string, options: ConnectOptions, lazyConnect: boolean): Redis {
  const redis = new Redis(url, {
    lazyConnect,
    connectTimeout: options.timeoutMs ?? 5000,
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 3,
    enableAutoPipelining: false,
    connectionName: options.name,
  });
  redis.on('error', () => undefined); // reported through failed commands, not as an unhandled event
  return redis;
}
