/**
 * Every Redis key of ticks is built here and nowhere else. Keys carry Redis Cluster hash tags so
 * that everything one Lua script touches lives in one slot:
 *   {c:<conversation>}  conversation state: meta (with the members and their watermarks),
 *                       messages, logs, windows, receipts
 *   {u:<user>}          per-user state (conversations by latest message and the badge)
 *   {p:<partition>}     per-partition keys: the indexes the punctuators scan (open windows, held
 *                       receipts), the partition's lease (which process may write its state) and
 *                       the marks its steps told ahead of their state writes
 */
export class RedisKeys {
  constructor(private readonly prefix: string) {}

  /** Prefix of all keys of one conversation; scripts append the suffixes below. */
  conversation(conversationId: string): string {
    return `${this.prefix}:{c:${conversationId}}:`;
  }

  conversationKey(conversationId: string, suffix: ConversationSuffix): string {
    return this.conversation(conversationId) + suffix;
  }

  /**
   * A key of the layout before members and watermarks moved into meta: readers fall back to it
   * where meta lacks the fields; the pipeline's next write to the conversation moves its content
   * into meta and deletes it (stores/state/conversation-writes.ts).
   */
  legacyKey(conversationId: string, suffix: LegacySuffix): string {
    return this.conversation(conversationId) + suffix;
  }

  /**
   * The badge as older builds kept it: a hash of source → '' used as a set. Read (and its sources
   * removed) until it expires; the badge is now part of the user's index (badge-entries.ts).
   */
  legacyBadge(userId: string): string {
    return `${this.prefix}:{u:${userId}}:badge`;
  }

  /** Pattern matching every legacyBadge key of this prefix (LegacyBadgeScan looks for any). */
  legacyBadges(): string {
    return `${this.prefix}:{u:*}:badge`;
  }

  /**
   * What the keyspace is known to no longer hold, a field per fact (LegacyBadgeScan writes
   * `badge-hashes`): read at start, so a fact proven once is not proven again by every process.
   */
  layout(): string {
    return `${this.prefix}:layout`;
  }

  /**
   * The user's conversations, newest first: a sorted set of conversation id scored by minus the
   * time of the conversation's latest message (epoch ms; 0 while it has none), so that an
   * ascending range gives newest first with ties by id, as the query API pages them. One entry
   * per (user, conversation); small sets (up to zset-max-listpack-entries) are a listpack.
   * Kept by the pipeline (UserStore.queueConversationIndex), the rebuild and the serving seed
   * (HotStateRestorer.restoreUsers); conversation-index.ts converts times and scores. The
   * user's unread-senders badge follows the conversations, scored above 0 (badge-entries.ts).
   */
  userConversations(userId: string): string {
    return `${this.prefix}:{u:${userId}}:recent`;
  }

  /**
   * The two halves around a conversation id of its key prefix (conversation()), for a script
   * that reaches the conversations a user's keys name (unread-page-2.lua, single Redis only).
   */
  conversationPrefixParts(): [string, string] {
    return [`${this.prefix}:{c:`, '}:'];
  }

  /** Prefix of the offline batcher's keys of one user; its scripts append the suffixes below. */
  user(userId: string): string {
    return `${this.prefix}:{u:${userId}}:`;
  }

  userKey(userId: string, suffix: UserSuffix): string {
    return this.user(userId) + suffix;
  }

  openWindows(partition: number): string {
    return `${this.prefix}:{p:${partition}}:windows`;
  }

  heldReceipts(partition: number): string {
    return `${this.prefix}:{p:${partition}}:held`;
  }

  /** Which process owns the partition's state: its owner id, expiring (PartitionLeases). */
  partitionLease(partition: number): string {
    return `${this.prefix}:{p:${partition}}:lease`;
  }

  /**
   * The 'told up to' marks the partition's steps wrote ahead of their outputs, by conversation,
   * until their state writes land (stores/state/told-ahead.ts).
   */
  toldAhead(partition: number): string {
    return `${this.prefix}:{p:${partition}}:told-ahead`;
  }

  /**
   * Main Redis: the dedupe marks of a partition that may lie, written while the auxiliary Redis
   * failed (the badge changed in main without its mark); deleted from aux before dedupe resumes.
   */
  untrustedMarks(partition: number): string {
    return `${this.prefix}:{p:${partition}}:untrusted-marks`;
  }

  /** Auxiliary Redis: "source already marked unread for recipient". */
  dedupeMark(source: string, recipient: string): string {
    return `${this.prefix}:dd:{${recipient}}:${source}`;
  }

  /** Pattern matching every dedupe mark of this prefix on the auxiliary Redis (rebuilds clear them). */
  dedupeMarks(): string {
    return `${this.prefix}:dd:*`;
  }

  /** Pattern matching every key of this prefix (tests, rebuilds). */
  all(): string {
    return `${this.prefix}:*`;
  }
}

/**
 * Suffixes of the offline batcher's user keys, as its Lua scripts spell them: the user's online
 * devices (each until the end of its lease), the updates coalesced while offline, and a batch
 * being sent.
 */
export type UserSuffix = 'devices' | 'offline' | 'sending';

/**
 * Fields of a conversation's meta hash that hold one entry per user ('m:<user>', 'r:<user>',
 * 'd:<user>', as the scripts' helpers.lua spells them): members and watermarks live in meta, one
 * small listpack per conversation instead of a set and two hashes of their own. So do a direct
 * chat's 'told up to' marks: 't' before the mark's field ('tr:<reader>', 'td:<reader>';
 * stored-values.ts markField), once a `notified` hash of their own.
 */
export const MetaField = {
  member: (userId: string) => `m:${userId}`,
  read: (userId: string) => `r:${userId}`,
  dlvd: (userId: string) => `d:${userId}`,
  told: (markField: string) => `t${markField}`,
  /** A token every content write replaces (stores/state/conversation-writes.ts: newRevision). */
  revision: 'rev',
  /**
   * Set ('2') when the conversation is created by a build that keeps a member's read and
   * delivered logs in one key (`log:<user>`, memberLogSuffix). A conversation without it may
   * still have the older `readlog:<user>` and `dlvlog:<user>` keys, which readers consult too
   * until they expire (receipt-details-1.lua).
   */
  layout: 'lv',
} as const;

/** MetaField.layout's value: one log key per member. */
export const LOG_LAYOUT = '2';

/**
 * MetaField.layout's value of the layout before PACKED_LOG_LAYOUT: one log key per member, and
 * the message index in one sorted set (`ix`, stored-values.ts indexEntry) instead of the `msg`
 * hash and `msgs` set. Readers use `msg`/`msgs` where neither it nor PACKED_LOG_LAYOUT is set.
 */
export const INDEX_LAYOUT = '3';

/**
 * MetaField.layout's value of today's layout: the message index in `ix` as INDEX_LAYOUT, and
 * each member's log in short fields (stores/state/member-log.ts) instead of a `log:<user>` key:
 * fields of meta for a direct chat, of the conversation's `log` hash for a group (logHashSuffix).
 * Set when the conversation is created, or by the pipeline's first write to one in LOG_LAYOUT or
 * INDEX_LAYOUT, which moves its logs (and index) there (conversation-writes.ts).
 */
export const PACKED_LOG_LAYOUT = '4';

/** Whether a meta 'lv' value says the conversation has no readlog/dlvlog or dlv:<id> keys. */
export function hasLogLayout(layout: string | null | undefined): boolean {
  return layout === LOG_LAYOUT || layout === INDEX_LAYOUT || layout === PACKED_LOG_LAYOUT;
}

/** Whether a meta 'lv' value says the message index is `ix` (not `msg` and `msgs`). */
export function hasOneKeyIndex(layout: string | null | undefined): boolean {
  return layout === INDEX_LAYOUT || layout === PACKED_LOG_LAYOUT;
}

/**
 * The conversation key whose fields hold its members' logs in PACKED_LOG_LAYOUT: meta for a
 * direct chat (two members' few moves: a key of their own costs more than they hold), `log` for
 * a group (its members' logs would make meta a hashtable; an unknown kind counts as a group).
 */
export function logHashSuffix(kind: string | null | undefined): 'meta' | 'log' {
  return kind === 'DIRECT' ? 'meta' : 'log';
}

/**
 * Suffix of a member's log key (`log:<user>`, layouts before PACKED_LOG_LAYOUT, which keeps logs
 * in fields): a sorted set of the moves of their read watermark
 * (scored by the seq) and delivered watermark (scored by minus the seq), each member the move's
 * time packed with the seq into one integer, so that both logs of a member cost one key
 * (stored-values.ts logEntry).
 */
export function memberLogSuffix(userId: string): string {
  return `log:${userId}`;
}

/**
 * Keys of the layout before members, watermarks and marks moved into meta (RedisKeys.legacyKey):
 * a 'members' set, the 'read' and 'dlvd' watermark hashes (user → seq) and a direct chat's
 * 'notified' hash (its 'told up to' marks, which only the pipeline reads).
 */
export const LEGACY_SUFFIXES = ['members', 'read', 'dlvd', 'notified'] as const;
export type LegacySuffix = (typeof LEGACY_SUFFIXES)[number];

/** Suffixes of conversation keys, as the Lua scripts spell them. */
export type ConversationSuffix =
  'meta' | 'ix' | 'msgs' | 'msg' | 'win' | 'held' | 'deleted' | 'marked' | 'dlv' | 'log';
