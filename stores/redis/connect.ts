import { isIP } from 'node:net';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../../config/config';
import { withoutPassword } from '../../config/redact';
import { timeCommandsOut } from './command-timeout';

/** A single Redis server or a Redis Cluster: the stores take either (see pipeline.ts). */
export type RedisClient = Redis | Cluster;

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

/** A URL alone is a single server (tests and tools that start their own). */
type Where = string | RedisTarget;

/**
 * Connects and PINGs, so a wrong URL fails at start with the variable to fix rather than with
 * commands queuing forever. A cluster is ready once it has read which node serves which slot.
 */
export async function connectRedis(
  where: Where,
  role: 'main' | 'auxiliary',
  options: ConnectOptions = {},
): Promise<RedisClient> {
  const target = targetOf(where);
  const redis = client(target, options, true);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new RedisUnavailableError(
      `${role} Redis ${target.cluster ? 'Cluster ' : ''}not reachable at ${describe(target)} — run \`npm run stack:up${target.cluster ? ' -- --redis-cluster' : ''}\` (or check ${variablesOf(role, target)}): ${(err as Error).message}`,
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
  where: Where,
  role: 'main' | 'auxiliary',
  options: ConnectOptions & { onUnavailable: (err: RedisUnavailableError) => void },
): Promise<RedisClient> {
  try {
    return await connectRedis(where, role, options);
  } catch (err) {
    if (!(err instanceof RedisUnavailableError)) throw err;
    options.onUnavailable(err);
    return client(targetOf(where), options, false); // connects in the background, and again on every loss
  }
}

export function isCluster(redis: RedisClient): redis is Cluster {
  return redis instanceof Cluster;
}

function targetOf(where: Where): RedisTarget {
  return typeof where === 'string' ? { url: where, cluster: false, seeds: [] } : where;
}

function describe(target: RedisTarget): string {
  const url = withoutPassword(target.url);
  return target.seeds.length > 0 ? `${url} (seeds ${target.seeds.join(', ')})` : url;
}

function variablesOf(role: 'main' | 'auxiliary', target: RedisTarget): string {
  const prefix = role === 'main' ? 'TICKS_REDIS' : 'TICKS_AUX_REDIS';
  return target.cluster
    ? `${prefix}_URL, ${prefix}_CLUSTER and ${prefix}_CLUSTER_SEEDS`
    : `${prefix}_URL`;
}

function client(target: RedisTarget, options: ConnectOptions, lazyConnect: boolean): RedisClient {
  const common = {
    connectTimeout: options.timeoutMs ?? 5000,
    maxRetriesPerRequest: 3,
    connectionName: options.name,
  } satisfies RedisOptions;
  const redis = target.cluster
    ? clusterClient(target, common, lazyConnect)
    : new Redis(target.url, { ...common, lazyConnect, enableAutoPipelining: false });
  redis.on('error', () => undefined); // reported through failed commands, not as an unhandled event
  // Not ioredis' commandTimeout: it fails commands answered while the process was stalled.
  if (options.commandTimeoutMs !== undefined) timeCommandsOut(redis, options.commandTimeoutMs);
  return redis;
}

/**
 * ioredis' cluster client: it reads the slot map from a seed, sends each command to the master
 * of its key's slot, follows MOVED (and refreshes the map) and ASK (a slot being migrated), and
 * retries while a failover is under way (CLUSTERDOWN, TRYAGAIN, a closed connection). What
 * still fails reaches the caller as an error that a step retries.
 */
/** How often a cluster client reads the slot map again (see clusterClient). */
export const CLUSTER_SLOTS_REFRESH_MS = 5000;

function clusterClient(target: RedisTarget, common: RedisOptions, lazyConnect: boolean): Cluster {
  const url = new URL(target.url);
  const port = (u: URL) => Number(u.port || 6379);
  const seeds = [
    { host: url.hostname, port: port(url) },
    ...target.seeds.map((s) => {
      const [host, p] = s.split(':') as [string, string];
      return { host, port: Number(p) };
    }),
  ];
  const tls = url.protocol === 'rediss:';
  return new Cluster(seeds, {
    lazyConnect,
    enableAutoPipelining: false,
    // Writes and reads go to masters: a replica may lag behind what a step just wrote.
    scaleReads: 'master',
    maxRedirections: 16,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 200,
    slotsRefreshTimeout: common.connectTimeout,
    // The slot map read again every few seconds, not only on a redirection: pipelines wait for
    // the replicas it lists (pipeline.ts), so a replica it did not list when the client
    // connected — still syncing then, or added or back since — would never be waited for, and
    // a failover to it would lose writes the steps committed as applied (ioredis documents a
    // 5 s default but applies none).
    slotsRefreshInterval: CLUSTER_SLOTS_REFRESH_MS,
    // Managed services (TLS) announce nodes by address while their certificate names the
    // configuration endpoint: connect to the address as announced, verify against the URL's host.
    ...(tls && { dnsLookup: (address, callback) => callback(null, address) }),
    redisOptions: {
      ...common,
      username: decodeURIComponent(url.username) || undefined,
      password: decodeURIComponent(url.password) || undefined,
      // SNI takes a host name, never an address.
      ...(tls && { tls: isIP(url.hostname) ? {} : { servername: url.hostname } }),
    },
  });
}
