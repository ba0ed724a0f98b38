import type { RedisClient } from './connect';
import type { ConversationKind } from '../../schemas/types';
import type { DedupeMark, MarkMemory } from '../state/dedupe-mark-cache';
import type { RedisKeys } from './keys';
import { execPipeline, pipelineOf } from './pipeline';
import { sendFenced, type RedisCommand } from './fenced-writes';
import type { WriteFence } from './partition-lease';
import type { WriteSet } from '../state/write-set';
import { deleteKeys, getKeys, queueGetKeys } from './keyspace';
import { indexScore } from './conversation-index';
import { LEGACY_BADGES_MAY_EXIST, type LegacyBadgeHashes } from './legacy-badges';
import {
  badgeChanged,
  badgeChangeCommands,
  badgeOfReplies,
  badgeReadCommands,
  badgeSizeCommands,
  badgeSizeOf,
} from './badge-entries';

/** A change to a user's conversations by latest message (UserStore.queueConversationIndex). */
export type ConversationIndexChange =
  /** Joined (MemberAdded): listed at the conversation's latest message (epoch ms, 0: none). */
  | { op: 'add'; userId: string; conversationId: string; lastAt: number }
  /** Left (MemberRemoved). */
  | { op: 'remove'; userId: string; conversationId: string }
  /** A new latest message, for a member who lists it; refreshExpiry: the index's TTL too. */
  | { op: 'move'; userId: string; conversationId: string; lastAt: number; refreshExpiry: boolean };

/** A change to a user's unread-senders badge; a source is the peer (direct) or the group id. */
export interface BadgeChange {
  op: 'add' | 'remove';
  userId: string;
  source: string;
  /** The kind of conversation the source stands for (counted apart in the metrics). */
  kind: ConversationKind;
}

export interface BadgeApplyStats {
  /** Changes skipped because the mark in memory already stated them (no aux read). */
  memoryHits: number;
  /** Changes skipped because the aux mark, read for pairs memory did not know, stated them. */
  auxHits: number;
  /** Changes written to the main Redis. */
  misses: number;
  /** Main-Redis writes (ZADD or ZREM: badge-entries.ts), by the kind of conversation of their source. */
  mainWrites: Record<ConversationKind, number>;
  /**
   * Of those writes, the ones that changed the badge: a source really added or removed. A write
   * that changed nothing was a mark the dedupe did not know.
   */
  changed: { add: number; remove: number };
  /** Badge sizes after the writes, of the users in `countsFor` (only when some were asked). */
  counts?: Map<string, number>;
  /**
   * The auxiliary Redis: 'ok'; 'failed' (a command failed in this call: it went on without
   * dedupe); 'degraded' (marks of the partition may lie since an outage: not read until a
   * background repair deleted them from aux; `onRecovered` tells when).
   */
  aux: 'ok' | 'failed' | 'degraded';
  /** The aux error of a 'failed' call. */
  auxError?: Error;
}

export interface BadgeApplyOptions {
  /** Users whose badge size to read after the writes, in the same main-Redis round trip. */
  countsFor?: string[];
  /**
   * Hand the aux mark writes over instead of waiting for them (the caller awaits the promise
   * before it commits). They are sent after the main write either way, and a later MGET on the
   * same aux connection is answered after them, so the next batch sees them.
   */
  deferMarks?: (written: Promise<void>) => void;
  /**
   * The marks this process knows (DedupeMarkCache): the aux Redis is read only for the pairs it
   * does not know, and it learns every mark read or written.
   */
  memory?: MarkMemory;
  /** The partition the changes belong to (its pairs' marks are listed apart after an outage). */
  partition?: number;
  /**
   * Called right before each write round trip (the aux DELs, the main writes, the aux SETs), so
   * a writer that may lose its right to write meanwhile (a partition lease, while it waits for a
   * reply) is asked again each time: it throws to stop there.
   */
  beforeWrite?: () => void;
}

/** How often at most a degraded partition tries to delete its untrusted marks from aux. */
const REPAIR_INTERVAL_MS = 1_000;
/** Untrusted marks deleted per round trip while repairing. */
const REPAIR_BATCH = 1_000;

/**
 * Per-user state on the main Redis (badge, conversations by latest message), with the seed's auxiliary Redis
 * in front of badge writes. A sender→recipient mark there records what the main badge holds:
 * '1' = it has the source, '0' = it does not, no mark = unknown. A change the mark already
 * states is skipped. A mark is written only after the main write it describes, and a mark that
 * is about to become false is deleted before that write, so a crash anywhere leaves at worst no
 * mark, never a lying one. '1' marks expire before the badge they guard (config check); '0'
 * marks stay true when a badge expires.
 *
 * The marks are an optimisation: when the aux Redis fails, badges are written to main without
 * them (every change written). A mark then may lie (its badge changed in main while aux could
 * not be told), so the pairs written that way are listed in main, per partition, in the same
 * round trip as their writes (`untrustedMarks`); the partition reads no aux mark until a repair
 * has deleted every listed mark from aux. A restart or a new owner finds the list in main.
 */
export class UserStore {
  /** Per partition: the last repair of its untrusted marks (see trustsAux). */
  private readonly repairs = new Map<number, { running: boolean; at: number }>();
  /** Per partition: how many writes went to main unguarded (a repair spanning one is not enough). */
  private readonly unguardedWrites = new Map<number, number>();
  /** Told when a partition's marks are trusted again, or a repair failed (logs, metrics). */
  onRecovered?: (partition: number) => void;
  onRepairFailed?: (partition: number, err: unknown) => void;

  constructor(
    private readonly main: RedisClient,
    private readonly aux: RedisClient,
    private readonly keys: RedisKeys,
    private readonly hotTtlSeconds: number,
    private readonly dedupeTtlSeconds: number,
    /**
     * The partition lease a partition's writes to main are fenced with (PartitionLeases.fence):
     * they land only while it names this process (sendFenced), whatever its own checks saw.
     */
    private readonly fence?: (partition: number) => WriteFence,
    /** Whether older builds' badge hashes may still exist (their commands are sent while so). */
    private readonly legacyBadges: LegacyBadgeHashes = LEGACY_BADGES_MAY_EXIST,
  ) {}

  private fenceOf(partition: number | undefined): WriteFence | undefined {
    return partition === undefined || partition < 0 ? undefined : this.fence?.(partition);
  }

  /**
   * Applies a batch's badge changes. Within the batch only the last change per (user, source)
   * matters: both operations are idempotent set operations.
   * Round trips: one aux MGET (only for the pairs `options.memory` does not know); one aux DEL pipeline (only for marks about to become false);
   * one main pipeline (the badge writes, then the sizes asked for); one aux SET pipeline for
   * the new marks — awaited, or handed to `options.deferMarks`. An aux failure is not the
   * step's: the changes go to main unguarded (see the class).
   */
  async applyBadgeChanges(
    changes: BadgeChange[],
    options: BadgeApplyOptions = {},
  ): Promise<BadgeApplyStats> {
    const last = new Map<string, BadgeChange>();
    for (const c of changes) {
      const id = `${c.userId}\u0000${c.source}`;
      last.delete(id); // keep insertion order = order of the last change
      last.set(id, c);
    }
    const latest = [...last.values()];
    const counted = [...new Set(options.countsFor ?? [])];
    const stats: BadgeApplyStats = {
      memoryHits: 0,
      auxHits: 0,
      misses: 0,
      mainWrites: { DIRECT: 0, GROUP: 0 },
      changed: { add: 0, remove: 0 },
      aux: 'ok',
    };
    if (latest.length === 0 && counted.length === 0) return stats;

    const { memory } = options;
    const partition = options.partition ?? -1;
    const untrustedKey = this.keys.untrustedMarks(partition);
    // Each change's mark key built once: a string built anew is hashed anew by every Map it meets.
    const markKeys = new Map(latest.map((c) => [c, this.keys.dedupeMark(c.source, c.userId)]));
    const markKey = (c: BadgeChange): string => markKeys.get(c)!;
    const auxFailed = (err: unknown) => {
      stats.aux = 'failed';
      stats.auxError = err instanceof Error ? err : new Error(String(err));
    };
    let guarded = latest.length > 0 && (await this.trustsAux(partition, memory, stats));

    const known = latest.map((c) => memory?.get(markKey(c)));
    const unknown = latest.filter((_, i) => known[i] === undefined);
    // Marks memory knows to be stale are deleted in the round trip that reads the unknown ones:
    // one aux round trip before the main write, not two, when memory knows the marks.
    const staleKnown = latest.flatMap((c, i) =>
      known[i] !== undefined && known[i] !== markValue(c.op) ? [markKey(c)] : [],
    );
    let read: Array<string | null> = [];
    // The stale marks memory knew, once that round trip deleted them.
    let deleted: ReadonlySet<string> = new Set();
    if (guarded && (unknown.length > 0 || staleKnown.length > 0)) {
      if (staleKnown.length > 0) options.beforeWrite?.(); // a throw writes nothing
      try {
        read = await this.readAndDeleteMarks(unknown.map(markKey), staleKnown);
        deleted = new Set(staleKnown);
      } catch (err) {
        auxFailed(err);
        guarded = false;
      }
    }
    let r = 0;
    const toWrite: BadgeChange[] = [];
    const stale: string[] = [];
    latest.forEach((c, i) => {
      const inMemory = known[i];
      const mark = inMemory ?? (guarded ? (read[r++] ?? null) : null);
      if (inMemory === undefined && mark !== null) memory?.remember(markKey(c), mark as DedupeMark);
      if (mark === markValue(c.op)) {
        if (inMemory === undefined) stats.auxHits++;
        else stats.memoryHits++;
        return; // main already in the state this change asks for
      }
      toWrite.push(c);
      // Any other mark ('0' before an add, '1' before a remove) would lie once main is written.
      if (mark !== null) stale.push(markKey(c));
    });
    stats.misses = toWrite.length;
    if (toWrite.length === 0 && counted.length === 0) return stats;

    const { beforeWrite } = options;
    for (const key of stale) memory?.forget(key);
    const toDelete = stale.filter((key) => !deleted.has(key));
    if (guarded && toDelete.length > 0) {
      beforeWrite?.();
      const pipe = pipelineOf(this.aux);
      for (const key of toDelete) pipe.del(key);
      try {
        await execPipeline(pipe);
      } catch (err) {
        auxFailed(err);
        guarded = false;
      }
    }
    if (toWrite.length > 0) beforeWrite?.();
    const main: RedisCommand[] = [];
    // Unguarded: the marks of what is written now may lie, listed before the writes they cover.
    if (!guarded && toWrite.length > 0) {
      main.push(['sadd', untrustedKey, ...toWrite.map(markKey)]);
      memory?.setUntrusted(true);
      this.unguardedWrites.set(partition, (this.unguardedWrites.get(partition) ?? 0) + 1);
    }
    // The replies of the writes start after what is queued so far.
    let reply = main.length;
    const legacy = this.legacyBadges.mayExist; // once: the replies are read by the same layout
    const commandsPerChange = toWrite.map((c) => {
      const commands = badgeChangeCommands(
        this.keys,
        c.userId,
        c.source,
        c.op,
        this.hotTtlSeconds,
        legacy,
      );
      main.push(...commands);
      return commands.length;
    });
    // After the writes, in the same round trip: the sizes include this batch.
    for (const u of counted) main.push(...badgeSizeCommands(this.keys, u, legacy));
    const replies = await sendFenced(this.main, main, this.fenceOf(options.partition));
    toWrite.forEach((c, i) => {
      stats.mainWrites[c.kind]++;
      const end = reply + commandsPerChange[i]!;
      if (badgeChanged(c.op, replies.slice(reply, end))) stats.changed[c.op]++;
      reply = end;
      memory?.remember(markKey(c), markValue(c.op));
    });
    if (counted.length > 0)
      stats.counts = await this.badgeSizes(counted, replies.slice(reply), legacy);
    if (toWrite.length === 0 || !guarded) return stats;

    beforeWrite?.();
    const marksPipe = pipelineOf(this.aux);
    for (const c of toWrite)
      marksPipe.set(markKey(c), markValue(c.op), 'EX', this.dedupeTtlSeconds);
    // A mark not written leaves the pair unknown (its stale mark was deleted before main was
    // written), which is safe: the aux failure shows in the next call.
    const written = execPipeline(marksPipe).then(
      () => undefined,
      () => undefined,
    );
    if (options.deferMarks) options.deferMarks(written);
    else await written;
    return stats;
  }

  /**
   * Whether the partition's aux marks can be read: none is listed as untrusted (read from main
   * once, then known in memory). While some are, a repair runs in the background at most once
   * per REPAIR_INTERVAL_MS (a step does not wait for an aux that does not answer).
   */
  /** Reads the `unknown` marks and deletes the `stale` ones, in one aux round trip. */
  private async readAndDeleteMarks(
    unknown: readonly string[],
    stale: readonly string[],
  ): Promise<Array<string | null>> {
    if (stale.length === 0) return getKeys(this.aux, unknown);
    const pipe = pipelineOf(this.aux);
    const values = queueGetKeys(this.aux, pipe, unknown);
    for (const key of stale) pipe.del(key);
    return values(await execPipeline(pipe));
  }

  private async trustsAux(
    partition: number,
    memory: MarkMemory | undefined,
    stats: BadgeApplyStats,
  ): Promise<boolean> {
    let untrusted = memory?.untrusted();
    if (untrusted === undefined) {
      untrusted = (await this.main.scard(this.keys.untrustedMarks(partition))) > 0;
      memory?.setUntrusted(untrusted);
    }
    if (!untrusted) return true;
    stats.aux = 'degraded';
    const repair = this.repairs.get(partition);
    if (repair?.running || Date.now() - (repair?.at ?? 0) < REPAIR_INTERVAL_MS) return false;
    const state = { running: true, at: Date.now() };
    this.repairs.set(partition, state);
    const attempt = (): void => {
      const unguardedBefore = this.unguardedWrites.get(partition) ?? 0;
      this.repair(partition).then(
        () => {
          // An unguarded write listed meanwhile may have come after the list was read: again.
          if ((this.unguardedWrites.get(partition) ?? 0) !== unguardedBefore) return attempt();
          state.running = false;
          memory?.setUntrusted(false);
          this.onRecovered?.(partition);
        },
        (err: unknown) => {
          state.running = false;
          this.onRepairFailed?.(partition, err);
        },
      );
    };
    attempt();
    return false;
  }

  /** Deletes the partition's untrusted marks from aux, then from the list in main. */
  private async repair(partition: number): Promise<void> {
    const key = this.keys.untrustedMarks(partition);
    for (;;) {
      const listed = await this.main.srandmember(key, REPAIR_BATCH);
      if (listed.length === 0) return;
      await deleteKeys(this.aux, listed); // first from aux: a crash in between leaves them listed
      await this.main.srem(key, ...listed);
    }
  }

  /**
   * The badge sizes of `users` from the replies of their badgeSizeCommands (badgeSizeOf). A user
   * whose older badge hash is not empty (an older build's, until it expires) is counted from the
   * union of both, read in one more round trip.
   */
  private async badgeSizes(
    users: string[],
    replies: unknown[],
    legacy: boolean,
  ): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    const union: string[] = [];
    users.forEach((u, i) => {
      const size = badgeSizeOf(replies, i, legacy);
      if (size === null) union.push(u);
      else sizes.set(u, size);
    });
    if (union.length === 0) return sizes;
    const pipe = pipelineOf(
      this.main,
      union.flatMap((u) => badgeReadCommands(this.keys, u)),
    );
    const read = await execPipeline(pipe);
    union.forEach((u, i) =>
      sizes.set(u, badgeOfReplies(read[2 * i] as string[], read[2 * i + 1] as string[]).length),
    );
    return sizes;
  }

  /**
   * Keeps each user's conversations by latest message (RedisKeys.userConversations), written
   * with `writes` (the step's write-behind): a join lists the conversation at its latest message
   * and refreshes the index's expiry; a leave unlists it; a new latest message moves it for those
   * who list it (XX: a member who joined only by sending is not listed) and refreshes the expiry
   * when asked.
   */
  queueConversationIndex(writes: WriteSet, changes: readonly ConversationIndexChange[]): void {
    for (const c of changes) {
      const index = writes.sortedSet(this.keys.userConversations(c.userId));
      if (c.op === 'remove') {
        index.remove(c.conversationId);
        continue;
      }
      index.add(String(indexScore(c.lastAt)), c.conversationId, c.op === 'add' ? undefined : 'XX');
      if (c.op === 'add' || c.refreshExpiry) index.expire(this.hotTtlSeconds);
    }
  }
}

/** The mark recording main's badge after `op`: '1' has the source, '0' lacks it. */
function markValue(op: BadgeChange['op']): '1' | '0' {
  return op === 'add' ? '1' : '0';
}
