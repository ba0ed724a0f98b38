import { isCluster, type RedisClient } from '../redis/connect';
import type { RedisKeys } from '../redis/keys';
import type { WriteFence } from '../redis/partition-lease';
import { ToldAhead } from './told-ahead';
import { syncField } from './stored-values';
import { ToldMarks, type ToldMark } from './told-marks';
import { loadConversations, loadDeliveredBy } from './conversation-loader';
import type { ConversationState } from './conversation-state';
import { evictionOrder, type Used } from './second-chance';
import { WriteSet } from './write-set';

export interface ConversationStatesOptions {
  /** Bytes of state kept in memory (estimated); idle, flushed states are evicted above it. */
  maxBytes: number;
  /**
   * How a step's writes reach Redis, atomically either way: `script` (the default on a single
   * server) sends the whole step as one apply-writes call — one client command;
   * `transactions` (the default on a Redis Cluster, where one script cannot span slots)
   * pipelines one MULTI/EXEC per conversation.
   */
  flushAs?: 'script' | 'transactions';
  /**
   * The partition lease a step's writes are fenced with (PartitionLeases.fence): a flush lands
   * only while the lease names this process, else it fails with LeaseLostError and writes
   * nothing. The `script` flush checks it atomically with the writes; `transactions` checks it
   * in the round trip before them (WriteSet.flush).
   */
  fence?: (partition: number) => WriteFence;
  /** Expiry of the partitions' told-ahead hashes (ToldAhead); default one day. */
  ttlSeconds?: number;
}

interface Entry extends Used {
  state: ConversationState;
  partition: number;
  /** The last write-behind (of its partition) that carries this state's changes. */
  lastWrite: number;
  /** Its size when last counted into the store's total. */
  counted: number;
}

/** One step's write-behind of one partition. */
export interface WriteBehind {
  readonly writes: WriteSet;
  /** Marks a conversation as changed by this step: it stays in memory until the flush lands. */
  touch(conversationId: string): void;
  /** A 'told up to' mark this step set: remembered (ToldMarks) once its updates went out. */
  told(mark: ToldMark): void;
  /**
   * Writes the step's marks ahead of its updates (ToldAhead), before they are produced: called
   * in step order, it sends at once; resolves when Redis has them (at once when none). Called
   * again (a step that released some updates before its end), it writes the marks told since.
   */
  writeAhead(): Promise<void>;
  /** The step's updates are acknowledged: its marks are true from now on. */
  acknowledged(): void;
  /** Sends the writes after the partition's earlier flushes. */
  flush(): Promise<void>;
}

interface PartitionWrites {
  /** Write-behinds handed out / completed, in order: a state is clean once its last is done. */
  issued: number;
  done: number;
  /**
   * The partition's write-behinds, in the order they were handed out (step order), each waiting
   * for the one before: false once one failed or was abandoned, after which none is written.
   */
  chain: Promise<boolean>;
  /** Bumped by a reset: write-behinds handed out before it are never written. */
  epoch: number;
  /** Decides the write-behinds handed out and not flushed yet (a reset abandons them). */
  undecided: Set<(write: boolean) => void>;
  /** After a reset: the flushes that were in flight then, which a reload must wait for. */
  settling: Promise<unknown> | undefined;
}

/**
 * A step asked for a state its partition's reset dropped while the step was computing (a lease
 * lost, a failed step, a rebalance): the step is redone from its last commit, like one whose
 * write-behind was abandoned — not a programming error waiting out the longest back-off.
 */
export class StateDroppedByResetError extends Error {
  override readonly name = 'StateDroppedByResetError';
  readonly retriable = true;

  constructor(
    readonly partition: number,
    conversationId: string,
  ) {
    super(
      `conversation ${conversationId} was dropped by a reset of partition ${partition} while a step used it: the step is redone from its last commit`,
    );
  }
}

/** A step's write-behind that was not written: an earlier one failed, or the partition was reset. */
export class WriteBehindAbandonedError extends Error {
  override readonly name = 'WriteBehindAbandonedError';
  readonly retriable = true;

  constructor(readonly partition: number) {
    super(
      `the state writes of a step of partition ${partition} were abandoned (an earlier step's failed, or the partition was reset): the step is redone from its last commit`,
    );
  }
}

/** Most conversations remembered as dropped by resets (ids only; the oldest are forgotten). */
const MAX_DROPPED = 100_000;

/**
 * The state store of the conversations this process owns (Kafka Streams' keyed state: the task
 * that owns partition p is the only writer of its conversations). States are loaded from Redis
 * on first touch — the missing ones of a step in one round trip — kept in memory, changed by the
 * engine's synchronous functions, and written behind: each step's changes go to Redis in one
 * WriteSet, flushed after the step's outputs were produced and before its offsets commit, one
 * partition's flushes in step order.
 *
 * Memory is bounded by an estimate in bytes: above it, the least recently used states whose
 * changes are all in Redis are evicted (a state with a flush still pending is never evicted, so
 * a reload never reads Redis behind memory). When a partition is reset — a failed step, a
 * rewind, a lost partition — its states are dropped and reloaded later, after its flushes in
 * flight settled: what Redis holds is then the truth the redo starts from.
 */
export class ConversationStates {
  readonly name = 'conversation-states';
  /** About least recently used first: a step's read sets `used`, eviction gives it a second chance. */
  private readonly entries = new Map<string, Entry>();
  private readonly partitions = new Map<number, PartitionWrites>();
  /**
   * Conversations resets dropped and not loaded since (→ their partition): a step still
   * computing when its partition was reset may ask for one (StateDroppedByResetError).
   */
  private readonly dropped = new Map<string, number>();
  /** What steps told, kept across resets: a redo does not tell it again (ToldMarks). */
  private readonly toldMarks = new ToldMarks();
  /** What steps told, written ahead of their outputs: no redo anywhere tells older (ToldAhead). */
  private readonly toldAhead: ToldAhead;
  private bytes = 0;

  private readonly flushAs: 'script' | 'transactions';

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: ConversationStatesOptions,
  ) {
    this.flushAs = options.flushAs ?? (isCluster(redis) ? 'transactions' : 'script');
    this.toldAhead = new ToldAhead(redis, keys, options.ttlSeconds ?? 86_400, options.fence);
  }

  /** States held in memory, and their estimated size. */
  get size(): { states: number; bytes: number } {
    return { states: this.entries.size, bytes: this.bytes };
  }

  /**
   * Makes these conversations' states (and the delivered-by-id hashes named) available to get():
   * one round trip for whatever is missing, none when all are held.
   */
  async prefetch(
    partition: number,
    conversationIds: Iterable<string>,
    deliveredBy: ReadonlyMap<string, Iterable<string>> = new Map(),
  ): Promise<void> {
    const wanted = new Set(conversationIds);
    const missing: string[] = [];
    for (const id of wanted) {
      const entry = this.entries.get(id);
      if (entry) entry.used = true;
      else missing.push(id);
    }
    const moreDeliveredBy: Array<{ state: ConversationState; messageIds: string[] }> = [];
    for (const [id, messageIds] of deliveredBy) {
      const entry = this.entries.get(id);
      if (!entry) continue;
      const unknown = [...messageIds].filter((m) => entry.state.deliveredBy(m) === undefined);
      if (unknown.length > 0) moreDeliveredBy.push({ state: entry.state, messageIds: unknown });
    }
    if (missing.length > 0) {
      // A reset partition's flushes may still be under way: load what they leave in Redis.
      // (Otherwise a state not held has no flush pending: only clean states are evicted.)
      await this.writesOf(partition).settling;
      const [, loaded] = await Promise.all([
        this.toldAhead.loadFloors(partition),
        loadConversations(this.redis, this.keys, missing, deliveredBy),
      ]);
      for (const [id, state] of loaded) {
        // Loaded meanwhile by another step of the partition? Keep the one in memory.
        if (this.entries.has(id)) continue;
        this.toldMarks.raise(state);
        this.toldAhead.raise(partition, state);
        this.entries.set(id, {
          state,
          partition,
          lastWrite: 0,
          counted: state.sizeBytes,
          used: false,
        });
        this.dropped.delete(id);
        this.bytes += state.sizeBytes;
      }
    }
    if (moreDeliveredBy.length > 0) await loadDeliveredBy(this.redis, moreDeliveredBy);
    for (const id of deliveredBy.keys()) wanted.add(id);
    this.evict(wanted);
  }

  /** The held state of a conversation; prefetch() it first. */
  get(conversationId: string): ConversationState {
    const entry = this.entries.get(conversationId);
    if (entry) return entry.state;
    const partition = this.dropped.get(conversationId);
    if (partition !== undefined) throw new StateDroppedByResetError(partition, conversationId);
    throw new Error(`conversation ${conversationId} is not loaded: prefetch it first`);
  }

  /**
   * How far the user's devices may have been told they read: by acknowledged unread syncs
   * (ToldMarks), or by an earlier incarnation's, written ahead (the state's quiet floor).
   */
  syncedUpTo(conversationId: string, userId: string): number {
    return Math.max(
      this.toldMarks.syncedUpTo(conversationId, userId),
      this.peek(conversationId)?.quietBelow(syncField(userId)) ?? 0,
    );
  }

  /** A quiet floor of a state was reached: forgotten by the state and the told-ahead entry. */
  quietFloorPassed(partition: number, state: ConversationState, field: string): void {
    this.toldAhead.passed(partition, state, field);
  }

  /** The held state, if any (no load). */
  peek(conversationId: string): ConversationState | undefined {
    return this.entries.get(conversationId)?.state;
  }

  /**
   * A new write-behind for one step of `partition`. Write-behinds are written in the order they
   * were handed out, whatever order their steps' deliveries call flush() in (a later step's
   * outputs may be acknowledged first): an older step's values never overwrite a newer one's.
   * One that fails, or that a reset abandons, stops the ones after it: their steps are redone.
   */
  writeBehind(partition: number): WriteBehind {
    const p = this.writesOf(partition);
    const number = ++p.issued;
    const epoch = p.epoch;
    const writes = new WriteSet();
    const touched = new Set<string>();
    const told: ToldMark[] = [];
    /** Marks of `told` written ahead so far. */
    let writtenAhead = 0;
    let decide!: (write: boolean) => void;
    const decided = new Promise<boolean>((resolve) => (decide = resolve));
    p.undecided.add(decide);
    const run = p.chain.then(async (earlierWritten) => {
      const write = await decided;
      if (!write || !earlierWritten || p.epoch !== epoch) return false;
      const fence = this.options.fence?.(partition);
      await (this.flushAs === 'transactions'
        ? writes.flush(this.redis, { fence })
        : writes.flushAsScript(this.redis, fence));
      p.done = Math.max(p.done, number);
      this.recount(touched);
      this.toldAhead.landed(partition, number, told, (id) => this.peek(id));
      return true;
    });
    p.chain = run.catch(() => false);
    return {
      writes,
      touch: (conversationId) => {
        touched.add(conversationId);
        const entry = this.entries.get(conversationId);
        if (entry) entry.lastWrite = number;
      },
      told: (mark) => told.push(mark),
      writeAhead: () => {
        const marks = told.slice(writtenAhead);
        writtenAhead = told.length;
        return this.toldAhead.write(partition, number, marks);
      },
      acknowledged: () => this.toldMarks.remember(told),
      flush: async () => {
        p.undecided.delete(decide);
        decide(true);
        if (!(await run)) throw new WriteBehindAbandonedError(partition);
      },
    };
  }

  /**
   * Forgets a partition's states (failed step, rewind, rebalance): reloaded when needed, once
   * `settled` (the partition's deliveries in flight, whose flushes must land first) is over.
   */
  resetPartition(partition: number, settled: Promise<unknown> = Promise.resolve()): void {
    for (const [id, entry] of this.entries)
      if (entry.partition === partition) {
        this.entries.delete(id);
        this.bytes -= entry.counted;
        this.dropped.delete(id); // re-inserted: the oldest go first
        this.dropped.set(id, partition);
      }
    while (this.dropped.size > MAX_DROPPED) this.dropped.delete(this.dropped.keys().next().value!);
    this.toldAhead.reset(partition);
    const p = this.writesOf(partition);
    p.epoch++;
    for (const decide of p.undecided) decide(false); // their steps are redone from Redis
    p.undecided.clear();
    const before = p.chain;
    p.settling = settled.then(() => before);
    p.chain = before.then(() => true); // the write-behinds handed out from now on start afresh
  }

  private writesOf(partition: number): PartitionWrites {
    let p = this.partitions.get(partition);
    if (!p)
      this.partitions.set(
        partition,
        (p = {
          issued: 0,
          done: 0,
          chain: Promise.resolve(true),
          epoch: 0,
          undecided: new Set(),
          settling: undefined,
        }),
      );
    return p;
  }

  /** States grow as they change: their sizes are recounted when their flush lands. */
  private recount(ids: Iterable<string>): void {
    for (const id of ids) {
      const entry = this.entries.get(id);
      if (!entry) continue;
      const size = entry.state.sizeBytes;
      this.bytes += size - entry.counted;
      entry.counted = size;
    }
  }

  /** Evicts idle clean states while over budget; never `needed` (the step asking for them). */
  private evict(needed: ReadonlySet<string>): void {
    if (this.bytes <= this.options.maxBytes) return;
    for (const [id, entry] of evictionOrder(this.entries)) {
      if (this.bytes <= this.options.maxBytes) break;
      if (needed.has(id)) continue;
      const p = this.partitions.get(entry.partition);
      if (p && entry.lastWrite > p.done) continue; // its changes are not all in Redis yet
      // An open group window closes within its 2 s, and the close reads the state: evicted now,
      // it is loaded again then, a round trip in the close that every sender's summary waits
      // for. Bounded by the groups with receipts in the last window.
      if (entry.state.window.size > 0) continue;
      this.entries.delete(id);
      this.bytes -= entry.counted;
    }
  }
}
