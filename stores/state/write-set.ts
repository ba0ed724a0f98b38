import type { Redis } from 'ioredis';
import { execPipeline } from '../redis/pipeline';

/** One Redis command as sent: name, key, arguments. */
export type RedisCommand = [command: string, key: string, ...args: string[]];

/**
 * Most members (SADD/SREM) or pairs (HSET field value, ZADD score member) per command: a
 * command's size stays bounded whatever a step wrote (as the scripts' callPairs slices).
 */
export const MAX_PAIRS_PER_COMMAND = 1000;

/**
 * Writes to one key, coalesced over a step: each field or member keeps its last value, a DEL
 * drops what came before it, and the expiry is set once. What a key's writes become, in order:
 * DEL, the additions, the removals, EXPIRE — additions before removals so that a set that stays
 * non-empty is never empty (so never deleted, so never loses its expiry) halfway through.
 */
abstract class KeyWrites {
  protected deleted = false;
  private ttlSeconds: number | null = null;

  constructor(
    readonly key: string,
    /** Lower ranks are sent first (see WriteSet). */
    readonly rank: number,
  ) {}

  /**
   * The key is gone (DEL, or a set's last member removed): what was written before is dropped
   * with it, and so is an expiry set before (Redis forgets a deleted key's TTL).
   */
  del(): void {
    this.deleted = true;
    this.ttlSeconds = null;
    this.clear();
  }

  /** EXPIRE, once: the caller asks only while the key exists, as EXPIRE of a missing key is a no-op. */
  expire(seconds: number): void {
    this.ttlSeconds = seconds;
  }

  commands(out: RedisCommand[]): void {
    if (this.deleted) out.push(['del', this.key]);
    this.writes(out);
    if (this.ttlSeconds !== null) out.push(['expire', this.key, String(this.ttlSeconds)]);
  }

  protected abstract clear(): void;
  protected abstract writes(out: RedisCommand[]): void;

  /** `name key a1 b1 a2 b2 …`, at most MAX_PAIRS_PER_COMMAND pairs each. */
  protected pairs(out: RedisCommand[], name: string, entries: Iterable<[string, string]>): void {
    let command: RedisCommand | null = null;
    let count = 0;
    for (const [a, b] of entries) {
      if (!command || count === MAX_PAIRS_PER_COMMAND) {
        out.push((command = [name, this.key]));
        count = 0;
      }
      command.push(a, b);
      count++;
    }
  }

  /** `name key m1 m2 …`, at most MAX_PAIRS_PER_COMMAND members each. */
  protected members(out: RedisCommand[], name: string, members: string[]): void {
    for (let i = 0; i < members.length; i += MAX_PAIRS_PER_COMMAND)
      out.push([name, this.key, ...members.slice(i, i + MAX_PAIRS_PER_COMMAND)]);
  }
}

export class HashWrites extends KeyWrites {
  private readonly fields = new Map<string, string>();

  /** HSET field value (the last value of a field wins). */
  set(field: string, value: string): void {
    this.fields.set(field, value);
  }

  protected clear(): void {
    this.fields.clear();
  }

  protected writes(out: RedisCommand[]): void {
    this.pairs(out, 'hset', this.fields);
  }
}

export class SortedSetWrites extends KeyWrites {
  private readonly scores = new Map<string, string>();

  /** ZADD score member (the last score of a member wins). */
  add(score: string, member: string): void {
    this.scores.set(member, score);
  }

  protected clear(): void {
    this.scores.clear();
  }

  protected writes(out: RedisCommand[]): void {
    const pairs = function* (scores: Map<string, string>): Iterable<[string, string]> {
      for (const [member, score] of scores) yield [score, member];
    };
    this.pairs(out, 'zadd', pairs(this.scores));
  }
}

export class SetWrites extends KeyWrites {
  /** member → true (SADD) or false (SREM): the last operation on a member wins. */
  private readonly ops = new Map<string, boolean>();

  add(member: string): void {
    this.ops.set(member, true);
  }

  remove(member: string): void {
    this.ops.set(member, false);
  }

  protected clear(): void {
    this.ops.clear();
  }

  protected writes(out: RedisCommand[]): void {
    const added: string[] = [];
    const removed: string[] = [];
    for (const [member, add] of this.ops) (add ? added : removed).push(member);
    this.members(out, 'sadd', added);
    // After a DEL the set holds only what was added since: nothing to remove.
    if (!this.deleted) this.members(out, 'srem', removed);
  }
}

type AnyWrites = HashWrites | SortedSetWrites | SetWrites;

/**
 * A step's Redis writes, coalesced per key, sent as plain pipelined commands in one round trip
 * (write-behind of the in-memory state: no script on the hot path).
 *
 * Order: by rank, then by the order keys were first written. The conversation layout gives the
 * watermark hashes the highest rank (stores/state/conversation-writes.ts), so a flush cut short
 * leaves every other write of a step in place before any watermark moves: a replay from the
 * last committed offset sees the old watermarks, applies the same receipts again and completes
 * the rest (the other writes are idempotent: fields set to the same values, log entries and
 * delivered-by-id entries that are already there).
 */
export class WriteSet {
  private readonly keys = new Map<string, AnyWrites>();

  get size(): number {
    return this.keys.size;
  }

  hash(key: string, rank = 0): HashWrites {
    return this.get(key, rank, HashWrites);
  }

  sortedSet(key: string, rank = 0): SortedSetWrites {
    return this.get(key, rank, SortedSetWrites);
  }

  set(key: string, rank = 0): SetWrites {
    return this.get(key, rank, SetWrites);
  }

  /** The commands flush() sends, in order (tests cut a flush short by sending a prefix). */
  commands(): RedisCommand[] {
    const ranked = [...this.keys.values()];
    // Array.prototype.sort is stable: within a rank, keys stay in first-written order.
    ranked.sort((a, b) => a.rank - b.rank);
    const out: RedisCommand[] = [];
    for (const writes of ranked) writes.commands(out);
    return out;
  }

  /** Sends every write in one round trip; throws the first command error. */
  async flush(redis: Redis): Promise<void> {
    await sendCommands(redis, this.commands());
  }

  private get<T extends AnyWrites>(
    key: string,
    rank: number,
    type: new (key: string, rank: number) => T,
  ): T {
    const found = this.keys.get(key);
    if (found) {
      if (!(found instanceof type))
        throw new TypeError(`${key} is written as a ${found.constructor.name}, not a ${type.name}`);
      return found;
    }
    const created = new type(key, rank);
    this.keys.set(key, created);
    return created;
  }
}

/** Sends commands as one pipeline (one round trip); throws the first command error. */
export async function sendCommands(redis: Redis, commands: RedisCommand[]): Promise<void> {
  if (commands.length === 0) return;
  await execPipeline(redis.pipeline(commands));
}
