import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys';
import { execPipeline } from './pipeline';

export type IndexKind = 'windows' | 'held';

/**
 * Per-partition sorted sets of "conversation → when to look again" (a window's close time, a
 * held receipt's deadline). Punctuators scan only the partitions their process owns, so after a
 * rebalance the new owner finds and finishes the work of the old one.
 */
export class PartitionIndex {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly kind: IndexKind,
  ) {}

  private key(partition: number): string {
    return this.kind === 'windows'
      ? this.keys.openWindows(partition)
      : this.keys.heldReceipts(partition);
  }

  /**
   * Registers conversations. `keepEarlier`: an existing entry keeps the earlier time (a window's
   * first close time, a conversation's earliest deadline).
   */
  async schedule(
    entries: Array<{ partition: number; conversationId: string; at: number }>,
  ): Promise<void> {
    if (entries.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const e of entries) pipe.zadd(this.key(e.partition), 'LT', e.at, e.conversationId);
    await execPipeline(pipe);
  }

  async reschedule(
    entries: Array<{ partition: number; conversationId: string; at: number | null }>,
  ): Promise<void> {
    if (entries.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const e of entries) {
      if (e.at === null) pipe.zrem(this.key(e.partition), e.conversationId);
      else pipe.zadd(this.key(e.partition), e.at, e.conversationId);
    }
    await execPipeline(pipe);
  }

  /** Conversations due at `now` on the given partitions, at most `limit` per partition. */
  async due(
    partitions: number[],
    now: number,
    limit = 500,
  ): Promise<Array<{ partition: number; conversationId: string; at: number }>> {
    if (partitions.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const p of partitions)
      pipe.zrangebyscore(this.key(p), '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit);
    const replies = await execPipeline(pipe);
    const due: Array<{ partition: number; conversationId: string; at: number }> = [];
    replies.forEach((reply, i) => {
      const flat = reply as string[];
      for (let j = 0; j < flat.length; j += 2)
        due.push({ partition: partitions[i]!, conversationId: flat[j]!, at: Number(flat[j + 1]) });
    });
    return due;
  }
}
