import type { Result } from 'ioredis';
import type { RedisClient } from './connect';
import type { RedisKeys } from './keys';
import { execPipeline, pipelineOf } from './pipeline';
import { deleteKeys, scanKeys } from './keyspace';
import { indexScore } from './conversation-index';
import { BADGE_SCORE, badgeMember } from './badge-entries';
import { defineScripts } from './script-loader';
import { newRevision } from './revision';

/** One conversation's hot state as the rebuild puts it back (see restore-conversation-1.lua). */
export interface RestoredConversation {
  conversationId: string;
  kind: string;
  last: { seq: number; messageId: string; at: number } | null;
  members: string[];
  former: string[];
  read: Record<string, number>;
  delivered: Record<string, number>;
  messages: Array<{ seq: number; messageId: string; senderId: string; sentAt: number }>;
  readLog: Record<string, Array<{ seq: number; at: number }>>;
  deliveredLog: Record<string, Array<{ seq: number; at: number }>>;
  deliveredById: Record<string, Record<string, number>>;
  /** Deleted message ids (kept so that receipts naming them are refused). */
  deleted: string[];
  /** Members who marked the conversation unread: user → when. */
  marked: Record<string, number>;
}

/**
 * Writes rebuilt hot state to Redis: each conversation in one script call (its keys share a
 * slot), then the per-user keys (badges, conversation indexes) in pipelines; and clears the sender
 * dedupe marks of the auxiliary Redis, which would otherwise no longer match the restored badges
 * ('1' hiding a source the rebuild did not restore, '0' keeping a read from clearing a restored
 * one).
 */
export class HotStateRestorer {
  constructor(
    private readonly main: RedisClient,
    private readonly aux: RedisClient,
    private readonly keys: RedisKeys,
    private readonly ttlSeconds: number,
  ) {
    defineScripts(main);
  }

  async restoreConversations(conversations: readonly RestoredConversation[]): Promise<void> {
    if (conversations.length === 0) return;
    const pipe = pipelineOf(this.main);
    for (const c of conversations)
      pipe.restoreConversation(
        this.keys.conversation(c.conversationId),
        this.ttlSeconds,
        newRevision(),
        JSON.stringify({
          kind: c.kind,
          last: c.last ? [c.last.seq, c.last.messageId, c.last.at] : false,
          members: c.members,
          former: c.former,
          read: c.read,
          dlvd: c.delivered,
          messages: c.messages.map((m) => [m.seq, m.messageId, m.senderId, m.sentAt]),
          readlog: logs(c.readLog),
          dlvlog: logs(c.deliveredLog),
          dlv: c.deliveredById,
          deleted: c.deleted,
          marked: c.marked,
        }),
      );
    await execPipeline(pipe);
  }

  /**
   * Badge sources and conversation-index entries (each listed at its conversation's latest
   * message, epoch ms, 0: none), added (set-like: a rerun changes nothing).
   */
  async restoreUsers(
    badges: ReadonlyArray<{ userId: string; source: string }>,
    lists: ReadonlyArray<{ userId: string; conversationId: string; lastAt: number }>,
  ): Promise<void> {
    if (badges.length === 0 && lists.length === 0) return;
    const pipe = pipelineOf(this.main);
    for (const b of badges)
      pipe
        .zadd(this.keys.userConversations(b.userId), BADGE_SCORE, badgeMember(b.source))
        .expire(this.keys.userConversations(b.userId), this.ttlSeconds);
    for (const l of lists)
      pipe
        .zadd(this.keys.userConversations(l.userId), indexScore(l.lastAt), l.conversationId)
        .expire(this.keys.userConversations(l.userId), this.ttlSeconds);
    await execPipeline(pipe);
  }

  /** Deletes every dedupe mark of this prefix on the auxiliary Redis; returns how many. */
  async clearDedupeMarks(dryRun = false): Promise<number> {
    const found = await scanKeys(this.aux, this.keys.dedupeMarks());
    if (!dryRun) await deleteKeys(this.aux, found);
    return found.length;
  }
}

function logs(
  byUser: Record<string, Array<{ seq: number; at: number }>>,
): Record<string, Array<[number, number]>> {
  const out: Record<string, Array<[number, number]>> = {};
  for (const [user, entries] of Object.entries(byUser))
    if (entries.length > 0) out[user] = entries.map((e) => [e.seq, e.at]);
  return out;
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    restoreConversation(...args: Array<string | number>): Result<unknown, Context>;
  }
}
