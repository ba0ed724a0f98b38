import type { ChainableCommander, Redis } from 'ioredis';
import type { ConversationKind } from '../../schemas/types';
import type { DedupeMark, MarkMemory } from '../state/dedupe-mark-cache';
import type { RedisKeys } from './keys';
import { execPipeline } from './pipeline';

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
  /** Main-Redis writes (SADD or SREM), by the kind of conversation of their source. */
  mainWrites: Record<ConversationKind, number>;
  /** Badge sizes after the writes, of the users in `countsFor` (only when some were asked). */
  counts?: Map<string, number>;
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
  /**
   * Called right before each write round trip (the aux DELs, the main writes, the aux SETs), so
   * a writer that may lose its right to write meanwhile (a partition lease, while it waits for a
   * reply) is asked again each time: it throws to stop there.
   */
  beforeWrite?: () => void;
}

/**
 * Per-user state on the main Redis (badge, conversation list), with the seed's auxiliary Redis
 * in front of badge writes. A sender→recipient mark there records what the main badge holds:
 * '1' = it has the source, '0' = it does not, no mark = unknown. A change the mark already
 * states is skipped. A mark is written only after the main write it describes, and a mark that
 * is about to become false is deleted before that write, so a crash anywhere leaves at worst no
 * mark, never a lying one. '1' marks expire before the badge they guard (config check); '0'
 * marks stay true when a badge expires.
 */
export class UserStore {
  constructor(
    private readonly main: Redis,
    private readonly aux: Redis,
    private readonly keys: RedisKeys,
    private readonly hotTtlSeconds: number,
    private readonly dedupeTtlSeconds: number,
  ) {}

  /**
   * Applies a batch's badge changes. Within the batch only the last change per (user, source)
   * matters: both operations are idempotent set operations.
   * Round trips: one aux MGET (only for the pairs `options.memory` does not know); one aux DEL pipeline (only for marks about to become false);
   * one main pipeline (SADD+EXPIRE / SREM, then the SCARDs asked for); one aux SET pipeline for
   * the new marks — awaited, or handed to `options.deferMarks`.
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
    };
    if (latest.length === 0 && counted.length === 0) return stats;

    const { memory } = options;
    const markKey = (c: BadgeChange): string => this.keys.dedupeMark(c.source, c.userId);
    const known = latest.map((c) => memory?.get(markKey(c)));
    const unknown = latest.filter((_, i) => known[i] === undefined);
    const read = unknown.length > 0 ? await this.aux.mget(unknown.map(markKey)) : [];
    let r = 0;
    const toWrite: BadgeChange[] = [];
    const stale: string[] = [];
    latest.forEach((c, i) => {
      const inMemory = known[i];
      const mark = inMemory ?? read[r++] ?? null;
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
    if (stale.length > 0) {
      for (const key of stale) memory?.forget(key);
      beforeWrite?.();
      const pipe = this.aux.pipeline();
      for (const key of stale) pipe.del(key);
      await execPipeline(pipe);
    }
    if (toWrite.length > 0) beforeWrite?.();
    const main = this.main.pipeline();
    for (const c of toWrite) {
      this.queueSetChange(main, this.keys.badge(c.userId), c.source, c.op);
    }
    // After the writes, in the same round trip: the sizes include this batch.
    for (const u of counted) main.scard(this.keys.badge(u));
    const replies = await execPipeline(main);
    for (const c of toWrite) {
      stats.mainWrites[c.kind]++;
      memory?.remember(markKey(c), markValue(c.op));
    }
    if (counted.length > 0) {
      const first = replies.length - counted.length;
      stats.counts = new Map(counted.map((u, i) => [u, Number(replies[first + i])]));
    }
    if (toWrite.length === 0) return stats;

    beforeWrite?.();
    const marksPipe = this.aux.pipeline();
    for (const c of toWrite)
      marksPipe.set(markKey(c), markValue(c.op), 'EX', this.dedupeTtlSeconds);
    const written = execPipeline(marksPipe).then(() => undefined);
    if (options.deferMarks) {
      written.catch(() => undefined); // the caller awaits it; no unhandled rejection meanwhile
      options.deferMarks(written);
    } else await written;
    return stats;
  }

  /** Keeps each user's conversation list (the query API lists and orders it). */
  async recordMembership(
    changes: Array<{ userId: string; conversationId: string; op: 'add' | 'remove' }>,
  ): Promise<void> {
    if (changes.length === 0) return;
    const pipe = this.main.pipeline();
    for (const c of changes)
      this.queueSetChange(pipe, this.keys.userConversations(c.userId), c.conversationId, c.op);
    await execPipeline(pipe);
  }

  /** A per-user set gains (and keeps the hot TTL) or loses a member. */
  private queueSetChange(
    pipe: ChainableCommander,
    key: string,
    member: string,
    op: 'add' | 'remove',
  ): void {
    if (op === 'add') pipe.sadd(key, member).expire(key, this.hotTtlSeconds);
    else pipe.srem(key, member);
  }
}

/** The mark recording main's badge after `op`: '1' has the source, '0' lacks it. */
function markValue(op: BadgeChange['op']): '1' | '0' {
  return op === 'add' ? '1' : '0';
}
