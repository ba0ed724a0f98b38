import type { ChainableCommander } from 'ioredis';
import { isCluster, type RedisClient } from './connect';
import { execPipeline, pipelineOf } from './pipeline';

/**
 * Commands over many keys, on either kind of Redis. A Redis Cluster refuses a multi-key command
 * whose keys are in different slots (CROSSSLOT), and SCAN walks one node only: these send one
 * command per key through pipelineOf (split per node) and scan every master.
 */

/**
 * Every key matching `pattern` (SCAN, never KEYS), on every master of a cluster; with `options.limit`,
 * the first that many found (a walk that stops there); `options.stopped` ends the walk early (with
 * what was found so far) when it turns true between two SCANs.
 */
export async function scanKeys(
  redis: RedisClient,
  pattern: string,
  count = 1000,
  options: { limit?: number; stopped?: () => boolean } = {},
): Promise<string[]> {
  const { limit = Infinity, stopped = () => false } = options;
  // The slot map read anew: a master lost in a failover since the last one is not listed.
  if (isCluster(redis)) await new Promise<unknown>((done) => redis.refreshSlotsCache(done));
  const nodes = isCluster(redis) ? redis.nodes('master') : [redis];
  const keys: string[] = [];
  // Copied only when a limit cuts it (the other callers take every key).
  const found = (): string[] => (keys.length > limit ? keys.slice(0, limit) : keys);
  for (const node of nodes) {
    let cursor = '0';
    do {
      if (keys.length >= limit || stopped()) return found();
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      for (const key of batch) keys.push(key);
      cursor = next;
    } while (cursor !== '0');
  }
  return found();
}

/** UNLINKs the keys (in one round trip per node); returns how many existed. */
export async function deleteKeys(redis: RedisClient, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  if (!isCluster(redis)) return redis.unlink(...keys);
  const pipe = pipelineOf(redis);
  for (const key of keys) pipe.unlink(key);
  const replies = await execPipeline(pipe);
  return replies.reduce<number>((sum, n) => sum + Number(n), 0);
}

/** GET of each key (MGET on a single server), in the keys' order. */
export async function getKeys(
  redis: RedisClient,
  keys: readonly string[],
): Promise<Array<string | null>> {
  if (keys.length === 0) return [];
  if (!isCluster(redis)) return redis.mget(...keys);
  const pipe = pipelineOf(redis);
  const values = queueGetKeys(redis, pipe, keys);
  return values(await execPipeline(pipe));
}

/**
 * Queues the read of `keys` on a pipeline of `redis` (one MGET on a single server, a GET each on
 * a cluster) among other commands; the function returned picks their values, in the keys'
 * order, out of the pipeline's replies.
 */
export function queueGetKeys(
  redis: RedisClient,
  pipe: ChainableCommander,
  keys: readonly string[],
): (replies: unknown[]) => Array<string | null> {
  const at = (pipe as unknown as { length: number }).length;
  if (keys.length === 0) return () => [];
  if (!isCluster(redis)) {
    pipe.mget(...keys);
    return (replies) => replies[at] as Array<string | null>;
  }
  for (const key of keys) pipe.get(key);
  return (replies) => replies.slice(at, at + keys.length) as Array<string | null>;
}
