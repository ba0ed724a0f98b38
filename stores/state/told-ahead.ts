import type { RedisClient } from '../redis/connect';
import type { RedisKeys } from '../redis/keys';
import { sendFenced, type RedisCommand } from '../redis/fenced-writes';
import type { WriteFence } from '../redis/partition-lease';
import type { ConversationState } from './conversation-state';
import { markSeq, toldFieldOf } from './stored-values';
import type { ToldMark } from './told-marks';

interface PartitionAhead {
  /** The partition's hash as read after the last reset (undefined: not read yet). */
  loading: Promise<void> | undefined;
  /** The same, once read: merged into every entry this process writes. */
  loaded: Map<string, Map<string, number>> | undefined;
  /** Marks written ahead whose write-behind has not landed: field → seq, and that write-behind. */
  pending: Map<string, Map<string, { seq: number; by: number }>>;
  /** Conversations whose entry holds nothing the state in Redis lacks: deleted with a later write. */
  deletable: Set<string>;
  /** When a write last deleted entries, and last refreshed the hash's expiry (ms). */
  deletedAt: number;
  expiryAt: number;
  /** The sweep due (sweepLater) while entries wait to be deleted and no write came. */
  sweep?: NodeJS.Timeout;
}

/** Entries deleted together (one HDEL per batch, not per write)… */
const DELETE_BATCH = 256;
/** …or at the first write this long after the last deletion, or by a sweep this long after. */
const DELETE_EVERY_MS = 1_000;

/**
 * What a partition's steps and window closes tell, written ahead of their outputs: a step's
 * state reaches Redis only after its updates went out, so a process that dies (or loses the
 * partition) in between leaves its next owner a state whose marks are behind what clients were
 * told; the redo would tell them the older statuses again, with newer versions, after the newer
 * ones (a sender's READ going back). So before a step's updates are produced, the marks they
 * move — a direct chat's 'told up to' marks, how far a reader's devices were told read, the
 * counts a group summary gave — are written to the partition's hash (`{p:N}:told-ahead`,
 * conversation → JSON floors, and '@' when written): a
 * state loaded later takes those above its own marks as quiet floors
 * (ConversationState.quietBelow), below which nothing is told. At a floor the status is told
 * again with a new version — the same content, or what never got out — so nothing is lost.
 *
 * An entry is deleted, with a later write of the partition (or by a sweep, when none comes
 * within DELETE_EVERY_MS: a quiet partition keeps none of them), once the write-behinds of the steps
 * that wrote it landed (their marks and watermarks are in the state); floors an earlier owner
 * left are kept — merged into what this process writes for the conversation — until the state
 * holds them or a close told the counts (passed), or for longer than the hot state lives. One
 * HSET round trip per step that told something, before its outputs (none for the others).
 */
export class ToldAhead {
  private readonly partitions = new Map<number, PartitionAhead>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /** The hash's expiry (the hot state's), refreshed a few times per expiry by the writes. */
    private readonly ttlSeconds: number,
    /**
     * The partition's lease the writes are fenced with (none: unfenced). A process stopped
     * mid-step past its lease (GC, SIGSTOP) must not overwrite the entries its successor wrote
     * when it wakes: their floors are what keeps a later redo from telling older statuses.
     */
    private readonly fence?: (partition: number) => WriteFence,
  ) {}

  /**
   * Reads the partition's floors as Redis holds them, once after each reset — by the partition's
   * owner, before it loads states (a failed read is tried again by the next call).
   */
  loadFloors(partition: number): Promise<void> {
    const p = this.of(partition);
    if (!p.loading) {
      const loading = this.redis.hgetall(this.keys.toldAhead(partition)).then((hash) => {
        const floors = new Map<string, Map<string, number>>();
        const oldest = Date.now() - this.ttlSeconds * 1000;
        for (const [conversationId, json] of Object.entries(hash)) {
          const entry = parseEntry(json);
          // Older than the hot state: its conversation was idle that long, or is gone.
          if (entry.at < oldest) p.deletable.add(conversationId);
          else floors.set(conversationId, entry.floors);
        }
        if (p.loading === loading) p.loaded = floors;
      });
      p.loading = loading;
      loading.catch(() => {
        if (p.loading === loading) p.loading = undefined;
      });
    }
    return p.loading;
  }

  /**
   * Writes ahead the marks a step (its write-behind `by`) told. The command is queued before this
   * returns (sendFenced: with the turn's other fenced writes, in call order), so calls made in
   * step order reach Redis in step order; resolves once Redis has it, or fails with
   * LeaseLostError (nothing written) once the partition's lease names another process or none.
   * A step that told nothing sends nothing.
   */
  write(partition: number, by: number, marks: readonly ToldMark[]): Promise<void> {
    if (marks.length === 0) return Promise.resolve();
    const p = this.of(partition);
    // Written without what earlier owners left, an entry would lose their floors.
    if (!p.loaded)
      return Promise.reject(
        new Error(`told-ahead marks of partition ${partition} are not loaded: the step is redone`),
      );
    const changed = new Set<string>();
    for (const [conversationId, field, value] of marks) {
      let fields = p.pending.get(conversationId);
      if (!fields) p.pending.set(conversationId, (fields = new Map()));
      const seq = markSeq(value);
      if (seq >= (fields.get(field)?.seq ?? 0)) fields.set(field, { seq, by });
      changed.add(conversationId);
    }
    const key = this.keys.toldAhead(partition);
    const now = Date.now();
    const entries: string[] = [];
    for (const conversationId of changed) {
      p.deletable.delete(conversationId);
      entries.push(
        conversationId,
        entryJson(now, p.loaded.get(conversationId), p.pending.get(conversationId)!),
      );
    }
    const commands: RedisCommand[] = [['hset', key, ...entries]];
    if (
      p.deletable.size >= DELETE_BATCH ||
      (p.deletable.size > 0 && now - p.deletedAt >= DELETE_EVERY_MS)
    ) {
      commands.push(['hdel', key, ...p.deletable]);
      p.deletable.clear();
      p.deletedAt = now;
    }
    // Refreshed a few times per expiry, not by every write.
    if (now - p.expiryAt >= (this.ttlSeconds * 1000) / 10) {
      commands.push(['expire', key, String(this.ttlSeconds)]);
      p.expiryAt = now;
    }
    return sendFenced(this.redis, commands, this.fence?.(partition)).then(() => undefined);
  }

  /**
   * The write-behind `by` landed: the marks it carried are in the states in Redis. A
   * conversation with nothing pending any more loses its entry, once the floors an earlier owner
   * left for it are below what its state (`held`) holds: a mark held in memory and not in Redis
   * yet is a later step's, written ahead before it is told.
   */
  landed(
    partition: number,
    by: number,
    marks: readonly ToldMark[],
    held: (conversationId: string) => ConversationState | undefined,
  ): void {
    const p = this.partitions.get(partition);
    if (!p) return;
    for (const [conversationId, field] of marks) {
      const fields = p.pending.get(conversationId);
      if (!fields) continue;
      if (fields.get(field)?.by === by) fields.delete(field);
      if (fields.size > 0) continue;
      p.pending.delete(conversationId);
      const left = p.loaded?.get(conversationId);
      if (left) {
        const state = held(conversationId);
        if (!state || [...left].some(([f, seq]) => seq > heldSeq(state, f))) continue;
        p.loaded!.delete(conversationId);
      }
      p.deletable.add(conversationId);
    }
    this.sweepLater(partition, p);
  }

  /**
   * Deletes the entries waiting to be, DELETE_EVERY_MS from now, unless a write did by then
   * (write() takes them along). Fenced as the writes: a process that lost the partition deletes
   * nothing. A failed sweep leaves the entries in Redis, where they are harmless (below their
   * states) until the hash's expiry.
   */
  private sweepLater(partition: number, p: PartitionAhead): void {
    if (p.sweep || p.deletable.size === 0) return;
    p.sweep = setTimeout(() => {
      p.sweep = undefined;
      if (this.partitions.get(partition) !== p || p.deletable.size === 0) return;
      const now = Date.now();
      if (now - p.deletedAt < DELETE_EVERY_MS) return this.sweepLater(partition, p);
      const command: RedisCommand = ['hdel', this.keys.toldAhead(partition), ...p.deletable];
      p.deletable.clear();
      p.deletedAt = now;
      sendFenced(this.redis, [command], this.fence?.(partition)).catch(() => undefined);
    }, DELETE_EVERY_MS);
    p.sweep.unref();
  }

  /**
   * Sets the quiet floors of a state just loaded from Redis: the floors written ahead for it
   * that are above what it holds — a direct mark above its own mark, an unread sync above the
   * user's read watermark (a sync at or below it is a backwards read, told nothing). An entry
   * with none above is stale (its state landed): deleted with a later write.
   */
  raise(partition: number, state: ConversationState): void {
    const p = this.partitions.get(partition);
    const id = state.conversationId;
    const floors = p?.loaded?.get(id);
    if (!floors) return;
    let above = false;
    for (const [field, seq] of floors)
      if (seq > heldSeq(state, field)) {
        state.setQuietFloor(field, seq);
        above = true;
      }
    if (above || p!.pending.has(id)) return;
    p!.loaded!.delete(id);
    p!.deletable.add(id);
    this.sweepLater(partition, p!);
  }

  /**
   * A quiet floor an earlier owner left was reached (told at or above): the state forgets it,
   * and so does what this process writes for the conversation from now on.
   */
  passed(partition: number, state: ConversationState, field: string): void {
    state.clearQuietFloor(field);
    const p = this.partitions.get(partition);
    const floors = p?.loaded?.get(state.conversationId);
    if (!floors?.delete(field) || floors.size > 0) return;
    p!.loaded!.delete(state.conversationId);
    if (!p!.pending.has(state.conversationId)) p!.deletable.add(state.conversationId);
    this.sweepLater(partition, p!);
  }

  /**
   * Forgets what the partition's hash held: read again before the next state is loaded (entries
   * waiting to be deleted stay in Redis: harmless, below their states).
   */
  reset(partition: number): void {
    clearTimeout(this.partitions.get(partition)?.sweep);
    this.partitions.delete(partition);
  }

  private of(partition: number): PartitionAhead {
    let p = this.partitions.get(partition);
    if (!p)
      this.partitions.set(
        partition,
        (p = {
          loading: undefined,
          loaded: undefined,
          pending: new Map(),
          deletable: new Set(),
          deletedAt: 0,
          expiryAt: 0,
        }),
      );
    return p;
  }
}

/**
 * How far the state itself holds a field told: its mark, for a sync the read watermark; a group
 * count not at all (its floor stays until a window close tells it: passed()).
 */
function heldSeq(state: ConversationState, field: string): number {
  const { kind, of } = toldFieldOf(field);
  if (kind === 'sync') return state.read.get(of) ?? 0;
  if (kind === 'count') return 0;
  return markSeq(state.notified.get(field));
}

/** An entry's field for when it was written (ms); the others are 'told up to' fields. */
const AT = '@';

/**
 * An entry as parseEntry reads it: '@' → `at`, then each field's floor, the higher of what an
 * earlier owner left (`loaded`) and what this process wrote ahead (`pending`). Written as a
 * string: a step writes one per conversation it told, and building objects for JSON.stringify
 * was most of what a step allocated here.
 */
function entryJson(
  at: number,
  loaded: ReadonlyMap<string, number> | undefined,
  pending: ReadonlyMap<string, { seq: number }>,
): string {
  let json = `{"${AT}":${at}`;
  loaded?.forEach((seq, field) => {
    json += `,${JSON.stringify(field)}:${Math.max(seq, pending.get(field)?.seq ?? 0)}`;
  });
  pending.forEach(({ seq }, field) => {
    if (seq > 0 && !loaded?.has(field)) json += `,${JSON.stringify(field)}:${seq}`;
  });
  return `${json}}`;
}

function parseEntry(json: string): { at: number; floors: Map<string, number> } {
  const floors = new Map<string, number>();
  let at = 0;
  try {
    for (const [field, seq] of Object.entries(JSON.parse(json) as Record<string, unknown>))
      if (typeof seq !== 'number') continue;
      else if (field === AT) at = seq;
      else floors.set(field, seq);
  } catch {
    // Unreadable (not written by this code): no floors from it, and deleted as old.
  }
  return { at, floors };
}
