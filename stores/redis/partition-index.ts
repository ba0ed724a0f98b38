import type { RedisClient } from './connect';
import type { RedisKeys } from './keys';
import { sendFenced } from './fenced-writes';
import type { WriteFence } from './partition-lease';
import { WriteSet } from '../state/write-set';

export type IndexKind = 'windows' | 'held';

type Entry = { partition: number; conversationId: string; at: number };

/**
 * Per-partition sorted sets of "conversation → when to look again" (a window's close time, a
 * held receipt's deadline). Punctuators scan only the partitions their process owns, so after a
 * rebalance the new owner finds and finishes the work of the old one.
 *
 * The owner of a partition is its only writer, so it keeps the partition's index in memory:
 * loaded with one ZRANGE when first used after an assignment or a reset, answering `due` without
 * a round trip and skipping a ZADD that would change nothing (a window's index entry is written
 * once, not once per receipt). Redis gets every change, for the next owner.
 */
export class PartitionIndex {
  readonly name: string;
  /** A partition's entries (conversation → at) as this process wrote or read them. */
  private readonly memory = new Map<number, Promise<Map<string, number>>>();
  /** Per partition: resolves once the deliveries in flight at its last reset are over. */
  private readonly settling = new Map<number, Promise<unknown>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly kind: IndexKind,
    /** A partition's writes land only while its lease names this process (sendFenced). */
    private readonly fence?: (partition: number) => WriteFence,
  ) {
    this.name = `${kind}-index`;
  }

  private key(partition: number): string {
    return this.kind === 'windows'
      ? this.keys.openWindows(partition)
      : this.keys.heldReceipts(partition);
  }

  /**
   * Forgets a partition's entries (a state store's reset: rebalance, failed step, lease change);
   * they are read again once the writes in flight at the reset (`settled`) are over.
   */
  resetPartition(partition: number, settled: Promise<unknown> = Promise.resolve()): void {
    this.memory.delete(partition);
    this.settling.set(
      partition,
      settled.catch(() => undefined),
    );
  }

  private entries(partition: number): Promise<Map<string, number>> {
    let known = this.memory.get(partition);
    if (!known) {
      const settled = this.settling.get(partition) ?? Promise.resolve();
      known = settled.then(async () => {
        const flat = await this.redis.zrange(this.key(partition), '0', '-1', 'WITHSCORES');
        const entries = new Map<string, number>();
        for (let i = 0; i < flat.length; i += 2) entries.set(flat[i]!, Number(flat[i + 1]));
        return entries;
      });
      // A failed read is not remembered: the next use reads again.
      known.catch(() => {
        if (this.memory.get(partition) === known) this.memory.delete(partition);
      });
      this.memory.set(partition, known);
    }
    return known;
  }

  /**
   * Registers conversations; an existing entry keeps the earlier time (a window's first close
   * time, a conversation's earliest deadline), as ZADD LT does. Memory knows at once; Redis gets
   * them with `writes`, the step's write-behind (after its outputs, fenced by its lease, atomic
   * with the state they point at). May wait for the index to load (first use after a reset).
   */
  async schedule(entries: Entry[], writes: WriteSet): Promise<void> {
    for (const e of entries) {
      const known = await this.entries(e.partition);
      const at = known.get(e.conversationId);
      if (at !== undefined && at <= e.at) continue;
      known.set(e.conversationId, e.at);
      writes.sortedSet(this.key(e.partition)).add(String(e.at), e.conversationId, 'LT');
    }
  }

  /**
   * Sets each conversation's time, or removes it (null), as `atOf` says (undefined: leaves the
   * entry as it is); a change that changes nothing is not written. `atOf` is asked once the partitions' entries are at hand, with no await
   * between the answer and the change: decided earlier, a step that ran in between — a window
   * opened again, a receipt held — was overwritten (its window's entry removed while it was
   * open: the window closed only when another receipt came, seconds later or never).
   */
  async reschedule(
    entries: ReadonlyArray<Omit<Entry, 'at'>>,
    atOf: (conversationId: string) => number | null | undefined,
  ): Promise<void> {
    if (entries.length === 0) return;
    const known = new Map<number, Map<string, number>>();
    for (const { partition } of entries)
      if (!known.has(partition)) known.set(partition, await this.entries(partition));
    // Per partition, its index's changes in one ZADD and one ZREM (a window boundary closes many).
    const writes = new Map<number, WriteSet>();
    const writesOf = (partition: number): WriteSet => {
      let set = writes.get(partition);
      if (!set) writes.set(partition, (set = new WriteSet()));
      return set;
    };
    for (const e of entries) {
      const at = atOf(e.conversationId);
      const inMemory = known.get(e.partition)!;
      // Left as it is, or already so (memory is what this owner wrote): nothing to write.
      if (at === undefined || (inMemory.get(e.conversationId) ?? null) === at) continue;
      const inRedis = writesOf(e.partition).sortedSet(this.key(e.partition));
      if (at === null) {
        inMemory.delete(e.conversationId);
        inRedis.remove(e.conversationId);
      } else {
        inMemory.set(e.conversationId, at);
        inRedis.add(String(at), e.conversationId);
      }
    }
    // One round trip per partition, each fenced by its partition's lease.
    await Promise.all(
      [...writes].map(([partition, set]) =>
        sendFenced(this.redis, set.commands({ atomic: false }), this.fence?.(partition)),
      ),
    );
  }

  /** Conversations due at `now` on the given partitions, at most `limit` per partition. */
  async due(partitions: number[], now: number, limit = 500): Promise<Entry[]> {
    const due: Entry[] = [];
    for (const partition of partitions) {
      const found: Entry[] = [];
      for (const [conversationId, at] of await this.entries(partition))
        if (at <= now) found.push({ partition, conversationId, at });
      found.sort((a, b) => a.at - b.at);
      due.push(...found.slice(0, limit));
    }
    return due;
  }
}
