import type { RedisClient } from '../../stores/redis/connect';
import { pipelineOf } from '../../stores/redis/pipeline';

/** Calls per command since the server started (INFO commandstats), and the total. */
export async function commandStats(
  redis: RedisClient,
): Promise<{ total: number; byCommand: Map<string, number> }> {
  const info = await redis.info('commandstats');
  const byCommand = new Map<string, number>();
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const calls = Number(m[2]);
    byCommand.set(m[1]!, calls);
    total += calls;
  }
  return { total, byCommand };
}

export function commandDelta(
  before: { byCommand: Map<string, number> },
  after: { byCommand: Map<string, number> },
): { total: number; byCommand: Record<string, number> } {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [cmd, calls] of after.byCommand) {
    const d = calls - (before.byCommand.get(cmd) ?? 0);
    if (d > 0) {
      byCommand[cmd] = d;
      total += d;
    }
  }
  return { total, byCommand };
}

export async function serverPid(redis: RedisClient): Promise<number | undefined> {
  const info = await redis.info('server');
  const m = /^process_id:(\d+)/m.exec(info);
  return m ? Number(m[1]) : undefined;
}

/** Every key matching `pattern` (SCAN, never KEYS). */
export async function scanAll(redis: RedisClient, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    for (const k of batch) keys.push(k);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Deletes every key matching `pattern` (UNLINK, in batches); returns how many. */
export async function deleteMatching(redis: RedisClient, pattern: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    if (batch.length > 0) deleted += await redis.unlink(...batch);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}

export interface KindMemory {
  keys: number;
  bytes: number;
  withoutExpiry: number;
}

export interface MemoryEstimate {
  keys: number;
  sampledKeys: number;
  bytes: number;
  /**
   * Per kind of key (the part of the key after the hash tag, digits dropped): keys, estimated
   * bytes, and the share of the sampled keys that have no expiry (they stay until deleted).
   */
  byKind: Record<string, KindMemory>;
}

/**
 * Redis memory of the keys under a prefix: every key is counted (SCAN), and MEMORY USAGE is
 * asked of up to `maxSamples` of them, spread evenly over each kind of key, so the estimate is
 * count × mean size per kind (exact when every key is sampled).
 */
export async function estimateMemory(
  redis: RedisClient,
  pattern: string,
  maxSamples: number,
): Promise<MemoryEstimate> {
  const keys = await scanAll(redis, pattern);
  const kinds = new Map<string, string[]>();
  for (const key of keys) {
    const kind = kindOf(key);
    const list = kinds.get(kind);
    if (list) list.push(key);
    else kinds.set(kind, [key]);
  }
  const share = keys.length === 0 ? 1 : Math.min(1, maxSamples / keys.length);
  const byKind: MemoryEstimate['byKind'] = {};
  let bytes = 0;
  let sampledKeys = 0;
  for (const [kind, list] of kinds) {
    const n = Math.max(1, Math.round(list.length * share));
    const step = list.length / n;
    const sample = Array.from({ length: n }, (_, i) => list[Math.floor(i * step)]!);
    let sampled = 0;
    let persistent = 0;
    for (let i = 0; i < sample.length; i += 1000) {
      const pipe = pipelineOf(redis);
      for (const key of sample.slice(i, i + 1000))
        pipe.memory('USAGE', key, 'SAMPLES', '0').pttl(key);
      const replies = (await pipe.exec()) ?? [];
      for (let r = 0; r < replies.length; r += 2) {
        sampled += Number(replies[r]![1] ?? 0);
        // PTTL −1: the key exists and has no expiry (−2: deleted since the SCAN).
        if (Number(replies[r + 1]![1]) === -1) persistent++;
      }
    }
    sampledKeys += sample.length;
    const kindBytes = (sampled / sample.length) * list.length;
    byKind[kind] = {
      keys: list.length,
      bytes: Math.round(kindBytes),
      withoutExpiry: persistent / sample.length,
    };
    bytes += kindBytes;
  }
  return { keys: keys.length, sampledKeys, bytes: Math.round(bytes), byKind };
}

/** `bench1a2b:{c:g-7}:readlog:u42` → `c:readlog`; `...:dd:{u1}:u9` → `dd`. */
function kindOf(key: string): string {
  const tag = /\{([a-z]):[^}]*\}:?([a-z]*)/.exec(key);
  if (tag) return tag[2] ? `${tag[1]}:${tag[2]}` : tag[1]!;
  const parts = key.split(':');
  return parts[1] ?? 'other';
}
