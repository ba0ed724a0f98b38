import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys';
import { execPipeline } from './pipeline';

export interface ConversationUnread {
  conversationId: string;
  /** null when the hot state does not know it. */
  kind: string | null;
  /** Messages after the watermark; at least 1 while the user has it marked unread. */
  unread: number;
  /** The user marked it unread and has not read it since. */
  markedUnread: boolean;
  readUpToSeq: number;
  lastSeq: number;
  lastAt: number;
}

/**
 * The read side of the hot state: what the query API, tools and tests ask. Unread counts are
 * derived (messages after the watermark), never stored, so nothing here can drift.
 */
export class ReadModel {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async watermark(conversationId: string, userId: string): Promise<number> {
    return Number(
      (await this.redis.hget(this.keys.conversationKey(conversationId, 'read'), userId)) ?? 0,
    );
  }

  async unread(conversationId: string, userId: string): Promise<number> {
    const [one] = await this.unreadMany([conversationId], userId);
    return one!.unread;
  }

  /** Unread counts of one user in several conversations, in one round trip, newest first. */
  async unreadMany(conversationIds: string[], userId: string): Promise<ConversationUnread[]> {
    if (conversationIds.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const c of conversationIds) {
      pipe.hget(this.keys.conversationKey(c, 'read'), userId);
      pipe.hmget(this.keys.conversationKey(c, 'meta'), 'last_seq', 'last_at', 'kind');
      pipe.hexists(this.keys.conversationKey(c, 'marked'), userId);
    }
    const replies = await execPipeline(pipe);
    const watermarks = conversationIds.map((_, i) => Number(replies[3 * i] ?? 0));
    const counts = this.redis.pipeline();
    conversationIds.forEach((c, i) =>
      counts.zcount(this.keys.conversationKey(c, 'msgs'), `(${watermarks[i]}`, '+inf'),
    );
    const unread = await execPipeline(counts);
    return conversationIds
      .map((conversationId, i) => {
        const [lastSeq, lastAt, kind] = replies[3 * i + 1] as Array<string | null>;
        const markedUnread = replies[3 * i + 2] === 1;
        return {
          conversationId,
          kind: kind ?? null,
          unread: Math.max(Number(unread[i]), markedUnread ? 1 : 0),
          markedUnread,
          readUpToSeq: watermarks[i]!,
          lastSeq: Number(lastSeq ?? 0),
          lastAt: Number(lastAt ?? 0),
        };
      })
      .sort((a, b) => b.lastAt - a.lastAt);
  }

  async badge(userId: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.badge(userId))).sort();
  }

  async conversations(userId: string): Promise<string[]> {
    return this.redis.smembers(this.keys.userConversations(userId));
  }

  async isMember(conversationId: string, userId: string): Promise<boolean> {
    return (
      (await this.redis.sismember(this.keys.conversationKey(conversationId, 'members'), userId)) ===
      1
    );
  }

  async members(conversationId: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.conversationKey(conversationId, 'members'))).sort();
  }
}
