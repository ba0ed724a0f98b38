import type { RedisClient } from '../../stores/redis/connect';
import { execPipeline } from '../../stores/redis/pipeline';
import { scanKeys } from './harness';
import { pipelineOf } from '../../stores/redis/pipeline';
import { INDEX_LAYOUT, LOG_LAYOUT, PACKED_LOG_LAYOUT } from '../../stores/redis/keys';
import { decodeChunk, parseLogField, type LogMove } from '../../stores/state/member-log';
import { logEntry } from '../../stores/state/stored-values';
import { formatMessage, parseIndexEntry } from '../../stores/state/stored-values';

/** One key as a test compares it: its type, its contents, and whether it expires. */
export interface DumpedKey {
  type: string;
  value: unknown;
  expires: boolean;
}

/**
 * Keys under `prefix` by their name after it, with types, contents and TTL presence (not its
 * value: two ways of writing the same state set expiries at different moments). Hashes as
 * objects without meta's 'touched' (a clock reading) and 'rev' (a token unique to each write), sets sorted, sorted sets in order with
 * scores. `names` lists the keys to look at; without it, every key under the prefix (SCAN).
 */
export async function dumpKeys(
  redis: RedisClient,
  prefix: string,
  names?: string[],
): Promise<Record<string, DumpedKey>> {
  const keys = names ? names.map((n) => prefix + n) : (await scanKeys(redis, `${prefix}*`)).sort();
  if (keys.length === 0) return {};
  const typePipe = pipelineOf(redis);
  for (const key of keys) typePipe.type(key);
  const types = (await execPipeline(typePipe)) as string[];
  const present = keys.map((key, i) => ({ key, type: types[i]! })).filter((k) => k.type !== 'none');
  if (present.length === 0) return {};
  const pipe = pipelineOf(redis);
  for (const { key, type } of present) {
    if (type === 'hash') pipe.hgetall(key);
    else if (type === 'zset') pipe.zrange(key, '0', '-1', 'WITHSCORES');
    else if (type === 'set') pipe.smembers(key);
    else pipe.type(key);
    pipe.pttl(key);
  }
  const replies = await execPipeline(pipe);
  const out: Record<string, DumpedKey> = {};
  present.forEach(({ key, type }, i) => {
    let value = replies[2 * i];
    if (type === 'hash') {
      const { touched: _touched, rev: _rev, ...rest } = value as Record<string, string>;
      value = rest;
    } else if (type === 'set') value = [...(value as string[])].sort();
    out[key.slice(prefix.length)] = { type, value, expires: (replies[2 * i + 1] as number) > 0 };
  });
  return out;
}

/** Redis' order of a sorted set's flat (member, score) pairs: by score, then by member's bytes. */
function redisOrder(pairs: Array<[string, string]>): Array<[string, string]> {
  return pairs.sort(
    ([a, x], [b, y]) => Number(x) - Number(y) || Buffer.compare(Buffer.from(a), Buffer.from(b)),
  );
}

/**
 * A dump with the members' logs in fields (keys.ts PACKED_LOG_LAYOUT: meta's 'l…:<user>' fields
 * for a direct chat, the `log` hash's for a group) written as the `log:<user>` sorted sets of the
 * layout before (stored-values.ts logEntry), the fields taken out of meta. The reference scripts
 * keep that layout; this compares the moves each side logged, move for move. A converted key
 * expires as the reference's do (they get an expiry with every write): the `log` hash's own
 * flag, and for fields of meta, whose expiry meta's entry shows, true.
 */
export function withLogsAsKeys(dump: Record<string, DumpedKey>): Record<string, DumpedKey> {
  const out: Record<string, DumpedKey> = {};
  const logs = new Map<string, { base: string; moves: LogMove[]; expires: boolean }>();
  const take = (base: string, field: string, value: string, expires: boolean): boolean => {
    const f = parseLogField(field);
    if (!f) return false;
    const name = `${base}log:${f.userId}`;
    const log = logs.get(name) ?? { base, moves: [], expires };
    log.moves.push(...decodeChunk(value));
    logs.set(name, log);
    return true;
  };
  for (const [name, key] of Object.entries(dump)) {
    if (name.endsWith('meta') && key.type === 'hash') {
      const base = name.slice(0, -'meta'.length);
      const meta: Record<string, string> = {};
      for (const [field, value] of Object.entries(key.value as Record<string, string>))
        if (!take(base, field, value, true)) meta[field] = value;
      out[name] = { ...key, value: meta };
    } else if (name.endsWith('log') && key.type === 'hash') {
      const base = name.slice(0, -'log'.length);
      for (const [field, value] of Object.entries(key.value as Record<string, string>))
        if (!take(base, field, value, key.expires)) throw new Error(`${name}: field ${field}`);
    } else out[name] = key;
  }
  for (const [name, { moves, expires }] of logs) {
    const pairs = moves.map((m): [string, string] => {
      const { score, member } = logEntry(m.which, m.seq, String(m.at));
      return [member, score];
    });
    out[name] = { type: 'zset', value: redisOrder(pairs).flat(), expires };
  }
  return out;
}

/**
 * A dump with each one-key message index (`ix`, keys.ts INDEX_LAYOUT) written as the `msg` hash
 * and `msgs` sorted set of the layout before, and meta's layout mark as that layout's: the
 * reference scripts (stores/redis/lua) keep the older layout, and this compares what the
 * engine's index says with what theirs does, entry for entry.
 */
export function withIndexAsMsgAndMsgs(dump: Record<string, DumpedKey>): Record<string, DumpedKey> {
  const out: Record<string, DumpedKey> = {};
  for (const [name, key] of Object.entries(dump)) {
    if (name.endsWith('meta') && key.type === 'hash') {
      const meta = { ...(key.value as Record<string, string>) };
      if (meta.lv === INDEX_LAYOUT || meta.lv === PACKED_LOG_LAYOUT) meta.lv = LOG_LAYOUT;
      out[name] = { ...key, value: meta };
    } else if (name.endsWith('ix') && key.type === 'zset') {
      const flat = key.value as string[];
      const msg: Record<string, string> = {};
      const msgs: Array<[string, string]> = [];
      for (let i = 0; i < flat.length; i += 2) {
        const m = parseIndexEntry(flat[i]!);
        if (!m) throw new Error(`${name}: an entry that does not parse: ${flat[i]}`);
        msg[m.messageId] = formatMessage(Number(flat[i + 1]), m.sender, m.sentAt);
        msgs.push([m.messageId, flat[i + 1]!]);
      }
      redisOrder(msgs);
      const base = name.slice(0, -'ix'.length);
      out[`${base}msg`] = { type: 'hash', value: msg, expires: key.expires };
      out[`${base}msgs`] = { type: 'zset', value: msgs.flat(), expires: key.expires };
    } else out[name] = key;
  }
  return out;
}

/**
 * A dump of the engine's keys as the reference scripts' layout holds the same state: the index
 * as `msg` and `msgs`, the logs as `log:<user>` keys (the scripts stay in the layout before).
 */
export function asReferenceLayout(dump: Record<string, DumpedKey>): Record<string, DumpedKey> {
  return withIndexAsMsgAndMsgs(withLogsAsKeys(dump));
}
