import type { ChainableCommander, Result } from 'ioredis';
import { isCluster, type RedisClient } from './connect';
import { hasOneKeyIndex, MetaField, type RedisKeys } from './keys';
import { indexScore, lastAtOfScore } from './conversation-index';
import { badgeOfReplies, badgeReadCommands, CONVERSATION_RANGE } from './badge-entries';
import { HeldUnreadPages, listingArgument, type HeldUnreadPage } from './held-unread-pages';
import { execPipeline, pipelineOf } from './pipeline';
import { defineScripts } from './script-loader';

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

/** Where a page of conversations ends: the next page starts after it (newest first). */
export interface UnreadCursor {
  lastAt: number;
  conversationId: string;
}

export interface UnreadPage {
  /** Newest first (latest message; ties by conversation id). */
  conversations: ConversationUnread[];
  /** The user's badge sources, sorted. */
  badge: string[];
  /** Where the next page starts; null when this page holds the last conversations. */
  next: UnreadCursor | null;
}

/**
 * The read side of the hot state: what the query API, tools and tests ask. Unread counts are
 * derived (messages after the watermark), never stored, so nothing here can drift.
 */
export class ReadModel {
  /** The pages last answered (single Redis): what is unchanged is not read or built again. */
  private readonly heldPages = new HeldUnreadPages<ConversationUnread, UnreadPage>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    defineScripts(redis);
  }

  /** The read watermark: meta's 'r:<user>', or the older layout's (RedisKeys.legacyKey). */
  async watermark(conversationId: string, userId: string): Promise<number> {
    // Two commands sent back to back on the connection (one slot: the conversation's hash tag),
    // not a split pipeline: a read for the API waits for no replica (a promoted master's old
    // one catching up would fail it).
    const [inMeta, legacy] = await Promise.all([
      this.redis.hget(this.keys.conversationKey(conversationId, 'meta'), MetaField.read(userId)),
      this.redis.hget(this.keys.legacyKey(conversationId, 'read'), userId),
    ]);
    return Number(inMeta ?? legacy ?? 0);
  }

  async unread(conversationId: string, userId: string): Promise<number> {
    const [one] = await this.unreadMany([conversationId], userId);
    return one!.unread;
  }

  /** Unread counts of one user in several conversations, in one round trip, newest first. */
  async unreadMany(conversationIds: string[], userId: string): Promise<ConversationUnread[]> {
    return (await this.unreadOf(conversationIds, userId)).sort(newestFirst);
  }

  /**
   * One page of a user's conversations, newest first, after `after` (the previous page's
   * `next`), and their badge: cut from the user's index of conversations by latest message
   * (RedisKeys.userConversations), so only the page's conversations are read, whatever the
   * user's number of conversations. One script call, one round trip; on a Redis Cluster the
   * page's conversations live in other slots: a second round trip counts them per node.
   * A row's lastAt is the index's, the time the page is ordered and cut by.
   */
  async unreadPage(
    userId: string,
    options: { limit: number; after?: UnreadCursor },
  ): Promise<UnreadPage> {
    const { limit, after } = options;
    const cluster = isCluster(this.redis);
    const [head, tail] = this.keys.conversationPrefixParts();
    const page = `${userId}\u0000${limit}\u0000${after ? `${after.lastAt}\u0000${after.conversationId}` : ''}`;
    const held = cluster ? undefined : this.heldPages.get(page);
    const [badge, more, listed, counts] = (await this.redis.unreadPage(
      this.keys.userConversations(userId),
      this.keys.legacyBadge(userId),
      userId,
      limit,
      after ? String(indexScore(after.lastAt)) : '',
      after?.conversationId ?? '',
      cluster ? 0 : 1,
      head,
      tail,
      held?.listing ?? '',
      held?.revisions ?? '',
    )) as [string[], number, string[] | '=', Array<number | string> | '='];
    badge.sort();
    if (listed === '=') {
      if (!held) throw new Error('unread page script: no listing held');
      // Nothing on the page changed: the held answer itself, nothing decoded or built.
      if (
        counts === '=' &&
        (more === 1) === (held.answer.next !== null) &&
        sameList(badge, held.answer.badge)
      )
        return held.answer;
    }
    const { ids, lastAts } = listed === '=' ? held! : listingOf(listed);
    if (cluster) {
      const rows = ids.length > 0 ? await this.unreadPerSlot(ids, userId) : [];
      rows.forEach((row, i) => (row.lastAt = lastAts[i]!));
      return pageOf(rows, badge, more);
    }
    const perRow = counts === '=' ? ids.map(() => '=') : counts;
    const { rows, heldRows } = this.pageRows(held, ids, lastAts, perRow);
    const answer = pageOf(rows, badge, more);
    const listing = listed === '=' ? held!.listing : listingArgument(listed);
    this.heldPages.hold(page, { listing, ids, lastAts, rows: heldRows, answer });
    return answer;
  }

  /**
   * The page script's rows ('=': the row held stands; else the revision and six values), new
   * objects (a held answer is never changed), with what to hold for the page from now on.
   */
  private pageRows(
    held: HeldUnreadPage<ConversationUnread, UnreadPage> | undefined,
    ids: readonly string[],
    lastAts: readonly number[],
    counts: ReadonlyArray<number | string>,
  ): {
    rows: ConversationUnread[];
    heldRows: Map<string, { revision: string; row: ConversationUnread }>;
  } {
    const rows: ConversationUnread[] = [];
    const heldRows = new Map<string, { revision: string; row: ConversationUnread }>();
    let at = 0;
    ids.forEach((conversationId, i) => {
      const revision = counts[at++] as string;
      let row: ConversationUnread;
      if (revision === '=') {
        const kept = held?.rows.get(conversationId);
        if (!kept) throw new Error(`unread page script: no row held for ${conversationId}`);
        row = { ...kept.row, lastAt: lastAts[i]! };
        heldRows.set(conversationId, { revision: kept.revision, row });
      } else {
        row = { ...rowAt(counts, at, conversationId), lastAt: lastAts[i]! };
        at += 6;
        if (revision !== '') heldRows.set(conversationId, { revision, row });
      }
      rows.push(row);
    });
    return { rows, heldRows };
  }

  /** Unread counts in the order of `conversationIds`, in one script call. */
  private async unreadOf(conversationIds: string[], userId: string): Promise<ConversationUnread[]> {
    if (conversationIds.length === 0) return [];
    if (isCluster(this.redis)) return this.unreadPerSlot(conversationIds, userId);
    const pipe = this.redis.pipeline();
    this.queueCounts(pipe, conversationIds, userId);
    const [reply] = await execPipeline(pipe);
    return countRows(conversationIds, reply);
  }

  /**
   * On a Redis Cluster the counting scripts would span slots (one conversation each): the same
   * figures from per-conversation commands, split per node by pipelineOf.
   */
  private async unreadPerSlot(
    conversationIds: readonly string[],
    userId: string,
  ): Promise<ConversationUnread[]> {
    const pipe = pipelineOf(this.redis);
    for (const c of conversationIds) {
      const meta = this.keys.conversationKey(c, 'meta');
      pipe.hmget(meta, 'last_seq', 'last_at', 'kind', MetaField.read(userId), MetaField.layout);
      pipe.hget(this.keys.legacyKey(c, 'read'), userId);
      pipe.hexists(this.keys.conversationKey(c, 'marked'), userId);
    }
    const replies = await execPipeline(pipe);
    // meta's 'r:<user>', or the older layout's (RedisKeys.legacyKey), as unread-row.lua reads it.
    const watermarks = conversationIds.map((_, i) =>
      Number((replies[3 * i] as Array<string | null>)[3] ?? replies[3 * i + 1] ?? 0),
    );
    const counts = pipelineOf(this.redis);
    conversationIds.forEach((c, i) => {
      // The index meta's layout names (unread-row.lua): 'ix', or the older 'msgs'.
      const layout = (replies[3 * i] as Array<string | null>)[4];
      const index = hasOneKeyIndex(layout) ? 'ix' : 'msgs';
      counts.zcount(this.keys.conversationKey(c, index), `(${watermarks[i]}`, '+inf');
    });
    const unread = await execPipeline(counts);
    return conversationIds.map((conversationId, i) => {
      const [lastSeq, lastAt, kind] = replies[3 * i] as Array<string | null>;
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
    });
  }

  private queueCounts(
    pipe: ChainableCommander,
    conversationIds: readonly string[],
    userId: string,
  ) {
    const prefixes = conversationIds.map((c) => this.keys.conversation(c));
    pipe.unreadCounts(prefixes.length, ...prefixes, userId);
  }

  /**
   * The user's badge sources, sorted (badge-entries.ts: the index's badge range, and an older
   * build's hash).
   */
  async badge(userId: string): Promise<string[]> {
    const [members, legacy] = (await execPipeline(
      pipelineOf(this.redis, badgeReadCommands(this.keys, userId)),
    )) as [string[], string[]];
    return badgeOfReplies(members, legacy);
  }

  /** The user's conversations, newest first (the index's order; the badge follows them). */
  async conversations(userId: string): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.userConversations(userId), ...CONVERSATION_RANGE);
  }

  /** Whether the user is a member: meta's 'm:<user>', or in the older layout's set. */
  async isMember(conversationId: string, userId: string): Promise<boolean> {
    const pipe = pipelineOf(this.redis);
    pipe.hexists(this.keys.conversationKey(conversationId, 'meta'), MetaField.member(userId));
    pipe.sismember(this.keys.legacyKey(conversationId, 'members'), userId);
    return (await execPipeline(pipe)).some((found) => found === 1);
  }

  /**
   * The members, sorted: meta's 'm:<user>' fields, or the older layout's set where meta has
   * none (RedisKeys.legacyKey), as receipt-details-1.lua reads them.
   */
  async members(conversationId: string): Promise<string[]> {
    const pipe = pipelineOf(this.redis);
    pipe.hkeys(this.keys.conversationKey(conversationId, 'meta'));
    pipe.smembers(this.keys.legacyKey(conversationId, 'members'));
    const [fields, legacy] = (await execPipeline(pipe)) as [string[], string[]];
    const member = MetaField.member('');
    const inMeta = fields.filter((f) => f.startsWith(member)).map((f) => f.slice(member.length));
    return (inMeta.length > 0 ? inMeta : legacy).sort();
  }

  /**
   * Of these messages (conversation → message ids), the ones deleted: conversation → their ids.
   * One round trip (split per node on a cluster). What the hot state has forgotten (a
   * conversation idle past TICKS_HOT_TTL_SECONDS) counts as not deleted.
   */
  async deletedAmong(messages: ReadonlyMap<string, string[]>): Promise<Map<string, Set<string>>> {
    const asked = [...messages].filter(([, ids]) => ids.length > 0);
    if (asked.length === 0) return new Map();
    const pipe = pipelineOf(this.redis);
    for (const [c, ids] of asked) pipe.hmget(this.keys.conversationKey(c, 'deleted'), ...ids);
    const replies = (await execPipeline(pipe)) as Array<Array<string | null>>;
    const deleted = new Map<string, Set<string>>();
    asked.forEach(([c, ids], i) => {
      const found = ids.filter((_, k) => replies[i]![k] !== null);
      if (found.length > 0) deleted.set(c, new Set(found));
    });
    return deleted;
  }

  /**
   * The badge sources these conversations stand for in `userId`'s badge: a group's id, a direct
   * chat's peer (a conversation the hot state does not know counts as a group).
   */
  async badgeSourcesOf(conversationIds: string[], userId: string): Promise<Set<string>> {
    if (conversationIds.length === 0) return new Set();
    const conversations = await this.unreadMany(conversationIds, userId);
    const sources = await Promise.all(
      conversations.map(async (c) =>
        c.kind === 'DIRECT'
          ? (await this.members(c.conversationId)).filter((m) => m !== userId)
          : [c.conversationId],
      ),
    );
    return new Set(sources.flat());
  }
}

/** Newest first by latest message; ties by conversation id, so pages are cut consistently. */
function newestFirst(
  a: { lastAt: number; conversationId: string },
  b: { lastAt: number; conversationId: string },
): number {
  if (a.lastAt !== b.lastAt) return b.lastAt - a.lastAt;
  return a.conversationId < b.conversationId ? -1 : a.conversationId > b.conversationId ? 1 : 0;
}

/** unreadRow's replies (includes/unread-row.lua): six values per conversation, in order. */
function pageOf(rows: ConversationUnread[], badge: string[], more: number): UnreadPage {
  const last = rows[rows.length - 1];
  return {
    conversations: rows,
    badge,
    next: more === 1 && last ? { lastAt: last.lastAt, conversationId: last.conversationId } : null,
  };
}

/** The page script's listing (id, index score, …) as ids and their latest-message times. */
function listingOf(listed: readonly string[]): { ids: string[]; lastAts: number[] } {
  const ids: string[] = [];
  const lastAts: number[] = [];
  for (let i = 0; i < listed.length; i += 2) {
    ids.push(listed[i]!);
    lastAts.push(lastAtOfScore(listed[i + 1]!));
  }
  return { ids, lastAts };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function countRows(conversationIds: readonly string[], reply: unknown): ConversationUnread[] {
  const n = reply as Array<number | string>;
  return conversationIds.map((conversationId, i) => rowAt(n, 6 * i, conversationId));
}

/** unreadRow's six values (unread-row.lua) from `at` on. */
function rowAt(
  n: ReadonlyArray<number | string>,
  at: number,
  conversationId: string,
): ConversationUnread {
  const markedUnread = n[at + 4] === 1;
  return {
    conversationId,
    kind: (n[at + 5] as string) || null,
    readUpToSeq: n[at] as number,
    lastSeq: n[at + 1] as number,
    lastAt: n[at + 2] as number,
    unread: Math.max(n[at + 3] as number, markedUnread ? 1 : 0),
    markedUnread,
  };
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    unreadCounts(...args: Array<string | number>): Result<unknown, Context>;
    unreadPage(...args: Array<string | number | Buffer>): Result<unknown, Context>;
  }
}
