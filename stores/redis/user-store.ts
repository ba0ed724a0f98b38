import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys';
import { execPipeline } from './pipeline';

/** A change to a user's unread-senders badge; a source is the peer (direct) or the group id. */
export interface BadgeChange {
  op: 'add' | 'remove';
  userId: string;
  source: string;
}

export interface BadgeApplyStats {
  dedupeHits: number;
  dedupeMisses: number;
  mainWrites: number;
}

/**
 * Per-user state on the main Redis (badge, conversation list), with the seed's auxiliary Redis
 * in front of badge additions: a sender→recipient mark there means the main Redis already has
 * the source, so the write is skipped. Marks expire before the badge they guard (config check).
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
   * Order is what makes it crash-safe: main SADD before the aux mark (a crash between leaves no
   * mark, so a retry writes again), aux mark deleted before main SREM.
   */
  async applyBadgeChanges(changes: BadgeChange[]): Promise<BadgeApplyStats> {
    const last = new Map<string, BadgeChange>();
    for (const c of changes) {
      const id = `${c.userId}\u0000${c.source}`;
      last.delete(id); // keep insertion order = order of the last change
      last.set(id, c);
    }
    const adds = [...last.values()].filter((c) => c.op === 'add');
    const removes = [...last.values()].filter((c) => c.op === 'remove');
    const stats: BadgeApplyStats = { dedupeHits: 0, dedupeMisses: 0, mainWrites: 0 };

    let toAdd: BadgeChange[] = [];
    if (adds.length > 0) {
      const marks = await this.aux.mget(adds.map((c) => this.keys.dedupeMark(c.source, c.userId)));
      toAdd = adds.filter((_, i) => marks[i] === null);
      stats.dedupeHits = adds.length - toAdd.length;
      stats.dedupeMisses = toAdd.length;
    }
    if (removes.length > 0) {
      await this.aux.del(...removes.map((c) => this.keys.dedupeMark(c.source, c.userId)));
    }
    if (toAdd.length > 0 || removes.length > 0) {
      const pipe = this.main.pipeline();
      for (const c of toAdd) {
        const key = this.keys.badge(c.userId);
        pipe.sadd(key, c.source).expire(key, this.hotTtlSeconds);
      }
      for (const c of removes) pipe.srem(this.keys.badge(c.userId), c.source);
      await execPipeline(pipe);
      stats.mainWrites = toAdd.length + removes.length;
    }
    if (toAdd.length > 0) {
      const pipe = this.aux.pipeline();
      for (const c of toAdd)
        pipe.set(this.keys.dedupeMark(c.source, c.userId), '1', 'EX', this.dedupeTtlSeconds);
      await execPipeline(pipe);
    }
    return stats;
  }

  async badgeCounts(userIds: string[]): Promise<Map<string, number>> {
    const unique = [...new Set(userIds)];
    const pipe = this.main.pipeline();
    for (const u of unique) pipe.scard(this.keys.badge(u));
    const replies = await execPipeline(pipe);
    return new Map(unique.map((u, i) => [u, Number(replies[i])]));
  }

  /** Keeps each user's conversation list (the query API lists and orders it). */
  async recordMembership(
    changes: Array<{ userId: string; conversationId: string; op: 'add' | 'remove' }>,
  ): Promise<void> {
    if (changes.length === 0) return;
    const pipe = this.main.pipeline();
    for (const c of changes) {
      const key = this.keys.userConversations(c.userId);
      if (c.op === 'add') pipe.sadd(key, c.conversationId).expire(key, this.hotTtlSeconds);
      else pipe.srem(key, c.conversationId);
    }
    await execPipeline(pipe);
  }
}
