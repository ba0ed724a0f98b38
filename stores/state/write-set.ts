import { defineScripts } from '../redis/script-loader';
import { applyFenced, type RedisCommand } from '../redis/fenced-writes';
import { LeaseLostError, type WriteFence } from '../redis/partition-lease';
import { execPipeline, RedisCommandError, pipelineOf } from '../redis/pipeline';
import { hashTag, keySlot } from '../redis/slots';
import { isCluster, type RedisClient } from '../redis/connect';

export type { RedisCommand };

/**
 * Most members (SADD/SREM) or pairs (HSET field value, ZADD score member) per command: a
 * command's size stays bounded whatever a step wrote (as the scripts' callPairs slices).
 */
export const MAX_PAIRS_PER_COMMAND = 1000;

/** `name key [flags] a1 b1 a2 b2 …` commands of at most MAX_PAIRS_PER_COMMAND pairs, appended to `commands`. */
class PairCommands {
  private command: RedisCommand | null = null;
  private count = 0;

  constructor(
    readonly commands: RedisCommand[],
    private readonly name: string,
    private readonly key: string,
    private readonly flags: readonly string[],
  ) {}

  add(a: string, b: string): void {
    if (this.command === null || this.count === MAX_PAIRS_PER_COMMAND) {
      this.commands.push((this.command = [this.name, this.key, ...this.flags]));
      this.count = 0;
    }
    this.command.push(a, b);
    this.count++;
  }
}

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

  /** `name key [flags] a1 b1 a2 b2 …`, at most MAX_PAIRS_PER_COMMAND pairs each. */
  protected pairs(out: RedisCommand[], name: string, flags: readonly string[] = []): PairCommands {
    return new PairCommands(out, name, this.key, flags);
  }

  /** `name key m1 m2 …`, at most MAX_PAIRS_PER_COMMAND members each. */
  protected members(out: RedisCommand[], name: string, members: string[]): void {
    for (let i = 0; i < members.length; i += MAX_PAIRS_PER_COMMAND)
      out.push([name, this.key, ...members.slice(i, i + MAX_PAIRS_PER_COMMAND)]);
  }
}

export class HashWrites extends KeyWrites {
  /** field → its value (HSET), or null (HDEL): the last operation on a field wins. */
  private readonly fields = new Map<string, string | null>();

  /** HSET field value (the last value of a field wins). */
  set(field: string, value: string): void {
    this.fields.set(field, value);
  }

  /** HDEL field. */
  delete(field: string): void {
    this.fields.set(field, null);
  }

  /** Whether this step already sets `field`. */
  sets(field: string): boolean {
    return (this.fields.get(field) ?? null) !== null;
  }

  protected clear(): void {
    this.fields.clear();
  }

  protected writes(out: RedisCommand[]): void {
    // One pass, no pair arrays: a step writes thousands of fields.
    const hset = this.pairs(out, 'hset');
    const deleted: string[] = [];
    this.fields.forEach((value, field) => {
      if (value !== null) hset.add(field, value);
      else deleted.push(field);
    });
    // After a DEL the hash holds only what was set since: nothing to delete.
    if (!this.deleted) this.members(out, 'hdel', deleted);
  }
}

/** ZADD's conditions: XX updates members only (adds none), LT lowers a score only (or adds). */
export type ZaddCondition = 'XX' | 'LT';

interface ScoreWrite {
  score: string;
  condition?: ZaddCondition;
}

export class SortedSetWrites extends KeyWrites {
  /** member → its ZADD, or null (ZREM): the last operation on a member wins (see add). */
  private readonly scores = new Map<string, ScoreWrite | null>();

  /**
   * ZADD score member, or with a condition. Coalesced as Redis would apply them in order: a
   * member added in the step and then updated XX stays an unconditional add of the new score;
   * XX after a removal changes nothing (the member is gone); LT keeps the lower score.
   */
  add(score: string, member: string, condition?: ZaddCondition): void {
    const before = this.scores.get(member);
    if (before === undefined || condition === undefined) {
      this.scores.set(member, condition ? { score, condition } : { score });
      return;
    }
    const lower = (a: string) => (Number(score) < Number(a) ? score : a);
    if (before === null) {
      if (condition === 'LT') this.scores.set(member, { score }); // LT adds a missing member
      return;
    }
    if (before.condition === undefined) {
      this.scores.set(member, { score: condition === 'XX' ? score : lower(before.score) });
      return;
    }
    if (before.condition !== condition)
      throw new TypeError(`${this.key}: ZADD XX and LT of one member in one step do not coalesce`);
    this.scores.set(member, { score: condition === 'XX' ? score : lower(before.score), condition });
  }

  /** ZREM member. */
  remove(member: string): void {
    this.scores.set(member, null);
  }

  /**
   * ZREMRANGEBYSCORE key (-bound (bound: every member scored strictly between -bound and bound,
   * after the step's adds (a member's log: its reads and deliveries below a seq).
   */
  removeWithin(bound: number): void {
    this.within = Math.max(this.within ?? bound, bound);
  }

  private within: number | null = null;

  protected clear(): void {
    this.scores.clear();
    this.within = null;
  }

  protected writes(out: RedisCommand[]): void {
    // One pass, no pair arrays; the conditional adds' commands only when there are some.
    const zadd = this.pairs(out, 'zadd');
    let xx: PairCommands | undefined;
    let lt: PairCommands | undefined;
    const removed: string[] = [];
    this.scores.forEach((write, member) => {
      if (write === null) removed.push(member);
      else if (write.condition === undefined) zadd.add(write.score, member);
      else if (write.condition === 'LT')
        (lt ??= this.pairs([], 'zadd', ['LT'])).add(write.score, member);
      // After a DEL the set holds only what was added since: an XX has nothing to update.
      else if (!this.deleted) (xx ??= this.pairs([], 'zadd', ['XX'])).add(write.score, member);
    });
    // In the order plain, XX, LT (each member is in one of them).
    if (xx) out.push(...xx.commands);
    if (lt) out.push(...lt.commands);
    // After a DEL the set holds only what was added since: nothing to remove.
    if (!this.deleted) this.members(out, 'zrem', removed);
    if (this.within !== null)
      out.push(['zremrangebyscore', this.key, `(${-this.within}`, `(${this.within}`]);
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
    this.ops.forEach((add, member) => (add ? added : removed).push(member));
    this.members(out, 'sadd', added);
    // After a DEL the set holds only what was added since: nothing to remove.
    if (!this.deleted) this.members(out, 'srem', removed);
  }
}

type AnyWrites = HashWrites | SortedSetWrites | SetWrites;

export interface FlushOptions {
  /**
   * Wrap the writes of each Redis Cluster slot (each hash tag: one conversation's keys) in
   * MULTI/EXEC, so that a conversation's step lands whole or not at all (default true).
   */
  atomic?: boolean;
}

/**
 * A step's Redis writes, coalesced per key, sent as plain pipelined commands in one round trip
 * (write-behind of the in-memory state: no script on the hot path).
 *
 * Order: by rank, then by the order keys were first written. The conversation layout ranks
 * last what tells a replay that a receipt was applied (the watermark hashes and delivered-by-id
 * entries: stores/state/conversation-writes.ts), so that a flush cut short never records a
 * receipt as applied while the rest of its effects are missing.
 *
 * Order alone does not make a cut flush safe, though: a replay of the step then reads keys the
 * step's later events already changed (a member removed after their receipt, a message sent
 * after a receipt that waited for it) next to watermarks that did not move yet, and can decide
 * otherwise than the first run (hold that member's receipt: its effects are lost). So by default
 * each slot's writes go in one MULTI/EXEC: a crash leaves every conversation as it was before
 * the step or after it, and a replay from either ends where a clean run ends, as with the
 * scripts. Per slot, not for the whole flush: a transaction cannot span Redis Cluster slots.
 */
export class WriteSet {
  private readonly keys = new Map<string, AnyWrites>();

  get size(): number {
    return this.keys.size;
  }

  /** The writes to a hash; `rank` places the key in the flush (its first write's rank holds). */
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
  commands(options: FlushOptions = {}): RedisCommand[] {
    // Array.prototype.sort is stable: within a rank, keys stay in first-written order.
    const ranked = [...this.keys.values()].sort((a, b) => a.rank - b.rank);
    const out: RedisCommand[] = [];
    if (!(options.atomic ?? true)) {
      for (const writes of ranked) writes.commands(out);
      return out;
    }
    const slots = new Map<string, AnyWrites[]>();
    for (const key of this.keys.keys()) slots.set(hashTag(key), []); // first-written order
    for (const writes of ranked) slots.get(hashTag(writes.key))!.push(writes);
    for (const group of slots.values()) {
      const commands: RedisCommand[] = [];
      for (const writes of group) writes.commands(commands);
      // One command is atomic by itself.
      if (commands.length > 1) out.push(['multi'], ...commands, ['exec']);
      else out.push(...commands);
    }
    return out;
  }

  /**
   * Sends every write in one round trip (one per node of a Redis Cluster); throws the first
   * command error. With a `fence`, the lease is read first and nothing is written unless it names
   * the owner (a LeaseLostError). Not atomic with the writes, as the script's fence is: a writer
   * that stalls between the two round trips past its lease can still write late; on a cluster,
   * where the lease and the conversations are in different slots, this is the fence there is.
   */
  async flush(
    redis: RedisClient,
    options: FlushOptions & { fence?: WriteFence } = {},
  ): Promise<void> {
    const commands = this.commands(options);
    if (commands.length === 0) return;
    const { fence } = options;
    if (fence) {
      const holder = await redis.get(fence.leaseKey);
      if (holder !== fence.owner)
        throw new LeaseLostError(
          `the partition lease ${fence.leaseKey} is not held by ${fence.owner} (${holder === null ? 'none holds it' : `${holder} holds it`})`,
        );
    }
    await sendCommands(redis, commands);
  }

  /**
   * Sends every write as one script call (apply-writes-1.lua: atomic, as one MULTI/EXEC): one
   * client command for the whole step instead of one per write. On a Redis Cluster, only for
   * writes (and a fence) of one slot.
   * With a `fence`, nothing is written unless the lease key names the owner: a LeaseLostError.
   */
  async flushAsScript(redis: RedisClient, fence?: WriteFence): Promise<void> {
    const slots = isCluster(redis)
      ? new Set([...this.keys.keys(), ...(fence ? [fence.leaseKey] : [])].map(keySlot))
      : undefined; // a single Redis takes any keys (hashing every key cost 1.4 % of a step)
    if (slots && slots.size > 1)
      throw new Error(
        `WriteSet.flushAsScript would send keys of ${slots.size} slots in one script call, which a Redis Cluster refuses: use flush() (one transaction per conversation)`,
      );
    const commands = this.commands({ atomic: false });
    if (commands.length === 0) return;
    const json = JSON.stringify(commands);
    if (fence) {
      await applyFenced(redis, fence, json);
      return;
    }
    defineScripts(redis);
    await redis.applyWrites(commands[0]![1]!, json);
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

/**
 * Sends commands as one pipeline (one round trip); throws the first command error, including
 * one inside a transaction (EXEC replies with each queued command's result).
 */
export async function sendCommands(redis: RedisClient, commands: RedisCommand[]): Promise<void> {
  if (commands.length === 0) return;
  const replies = await execPipeline(pipelineOf(redis, commands));
  commands.forEach((command, i) => {
    if (command[0] !== 'exec') return;
    const failed = (replies[i] as unknown[] | null)?.find((r) => r instanceof Error);
    if (failed)
      throw new RedisCommandError(`Redis command failed: ${(failed as Error).message}`, {
        cause: failed,
      });
  });
}
