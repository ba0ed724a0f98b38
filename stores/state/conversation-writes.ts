import {
  INDEX_LAYOUT,
  LEGACY_SUFFIXES,
  LOG_LAYOUT,
  logHashSuffix,
  memberLogSuffix,
  MetaField,
  PACKED_LOG_LAYOUT,
  type ConversationSuffix,
} from '../redis/keys';
import type { LogFieldWrites } from './member-log';
import type { ConversationKind } from '../../schemas/types';
import type { ConversationState } from './conversation-state';
import { newRevision } from '../redis/revision';
import {
  deliveredByField,
  formatMessage,
  formatNumber,
  indexEntry,
  indexEntryForms,
  type StoredMessage,
} from './stored-values';
import type { HashWrites, SortedSetWrites, WriteSet } from './write-set';

/**
 * Flush order of a conversation's keys (WriteSet sends lower ranks first). What tells a replay
 * that a receipt was applied goes last — meta, which holds the watermarks (with last_seq and
 * kind, which decide whether a replayed message or member event refreshes the expiry of keys it
 * creates: one HSET writes them together), and who confirmed delivery by id (`dlv`): until
 * those are written, a replay of the step applies its receipts again and redoes what they
 * derive (logs, marks, the group window). Written before the window, a delivered-by-id entry
 * would make the replay see an old confirmation and leave its range out of the window for good.
 * Order alone does not make a cut flush safe (see WriteSet): by default each conversation's
 * writes also go as one transaction; the order still holds within it and for a plain flush.
 */
export const ConversationRank = { Data: 0, Meta: 1, Watermarks: 2 } as const;

/** Writes to the fields of one kind in meta ('r:<user>' …), by name (a user, a mark's field). */
export class UserFields {
  constructor(
    private readonly meta: () => HashWrites,
    private readonly field: (name: string) => string,
  ) {}

  set(name: string, value: string): void {
    this.meta().set(this.field(name), value);
  }

  delete(name: string): void {
    this.meta().delete(this.field(name));
  }
}

/** The members as meta fields ('m:<user>' = '1'). */
export class MemberFields extends UserFields {
  add(userId: string): void {
    this.set(userId, '1');
  }

  remove(userId: string): void {
    this.delete(userId);
  }
}

/**
 * The writes of an engine call on `state`. A state loaded from the legacy layout (separate
 * members/read/dlvd/notified keys: conversation-loader.ts) gets its members, watermarks and
 * 'told up to' marks written into meta with this call's writes, and the legacy keys deleted, once.
 * A state whose index is in LOG_LAYOUT's `msg` and `msgs` gets it moved into `ix` the same way,
 * and one whose members' logs are in `log:<user>` keys gets them moved into fields.
 */
export function conversationWrites(
  state: ConversationState,
  writes: WriteSet,
  ttlSeconds: number,
): ConversationWrites {
  if (!state.oneKeyIndex && !state.olderKeys && !state.legacyLayout && state.kind !== null)
    moveIndexToOneKey(state, writes, ttlSeconds);
  if (state.logsToMove) moveLogsToFields(state, writes, ttlSeconds);
  const c = new ConversationWrites(writes, state.prefix, state.oneKeyIndex, state.logsInFields);
  if (state.legacyLayout) {
    for (const user of state.members) c.members.add(user);
    for (const [user, seq] of state.read) c.read.set(user, formatNumber(seq));
    for (const [user, seq] of state.dlvd) c.dlvd.set(user, formatNumber(seq));
    for (const [field, mark] of state.notified) c.notified.set(field, mark);
    // After meta (a cut flush never leaves a conversation with neither).
    for (const suffix of LEGACY_SUFFIXES)
      writes.hash(state.prefix + suffix, ConversationRank.Watermarks).del();
    state.legacyLayout = false;
  }
  return c;
}

/**
 * Moves a LOG_LAYOUT conversation's message index (`msg` hash, `msgs` set) into `ix` and marks
 * meta INDEX_LAYOUT. In flush order, `ix` is written whole (after a DEL: a cut flush before may
 * have left part of it) before meta says to read it, and the old keys go after meta: a flush cut
 * anywhere leaves readers a whole index in the keys meta names. A message the old keys held in
 * one of them only, or with a value that does not parse, was unknown to every rule and is not
 * carried over. Conversations of older layouts (no 'lv') keep theirs: their readers look for
 * other older keys by the missing mark.
 */
function moveIndexToOneKey(state: ConversationState, writes: WriteSet, ttlSeconds: number): void {
  const ix = writes.sortedSet(state.prefix + 'ix', ConversationRank.Data);
  ix.del();
  for (const [id, seq] of state.indexed()) {
    const m = state.message(id);
    if (m) ix.add(formatNumber(seq), indexEntry(id, m.sender, m.sentAt));
  }
  // The conversation's core keys share an expiry (refreshCore): meta's stands for it.
  if (state.indexedCount > 0) ix.expire(ttlSeconds);
  writes.hash(state.prefix + 'meta', ConversationRank.Meta).set(MetaField.layout, INDEX_LAYOUT);
  writes.hash(state.prefix + 'msg', ConversationRank.Watermarks).del();
  writes.sortedSet(state.prefix + 'msgs', ConversationRank.Watermarks).del();
  state.oneKeyIndex = true;
}

/**
 * Moves the members' logs of a conversation loaded with `log:<user>` keys (LOG_LAYOUT or
 * INDEX_LAYOUT, held as MemberLogs since its load) into fields (PACKED_LOG_LAYOUT), and marks
 * meta so. In flush order the fields come first (the `log` hash before meta; in meta, with the
 * mark), the old keys after meta: a flush cut anywhere leaves readers the whole logs in the place
 * meta names. Called after moveIndexToOneKey, whose mark this one replaces.
 */
function moveLogsToFields(state: ConversationState, writes: WriteSet, ttlSeconds: number): void {
  const suffix = logHashSuffix(state.kind);
  const rank = suffix === 'meta' ? ConversationRank.Meta : ConversationRank.Data;
  const hash = writes.hash(state.prefix + suffix, rank);
  let any = false;
  for (const log of state.memberLogs.values())
    for (const [field, value] of log.fields()) {
      hash.set(field, value);
      any = true;
    }
  if (any && suffix === 'log') hash.expire(ttlSeconds);
  writes
    .hash(state.prefix + 'meta', ConversationRank.Meta)
    .set(MetaField.layout, PACKED_LOG_LAYOUT);
  // The keys the load found (it read every user's with a watermark or membership).
  for (const user of state.memberLogs.keys())
    writes.sortedSet(state.prefix + memberLogSuffix(user), ConversationRank.Watermarks).del();
  state.logsToMove = false;
  state.logsInFields = true;
}

/**
 * The WriteSet handles of one conversation's keys, named as the Lua scripts name them (the key
 * prefix, then 'meta', 'msgs', 'dlv', …; members and watermarks as meta fields) so that
 * readers find what the scripts would have written.
 */
export class ConversationWrites {
  // Handles of the core keys, found once per run rather than on every write.
  private metaWrites?: HashWrites;
  private msgWrites?: HashWrites;
  private msgsWrites?: SortedSetWrites;
  private ixWrites?: SortedSetWrites;
  private winWrites?: HashWrites;
  private deletedWrites?: HashWrites;
  private markedWrites?: HashWrites;

  constructor(
    private readonly writes: WriteSet,
    private readonly prefix: string,
    /** The message index is `ix` (INDEX_LAYOUT), not `msg` and `msgs`. */
    private readonly oneKeyIndex = true,
    /** Members' logs are fields (PACKED_LOG_LAYOUT), not `log:<user>` keys. */
    private readonly logsInFields = true,
  ) {}

  get meta(): HashWrites {
    return this.revise();
  }

  /**
   * meta for what is not content — its expiry, an older build's field read by no rule — without
   * a new 'rev': a refresh of a conversation nothing was written to creates no meta.
   */
  get metaAsIs(): HashWrites {
    return (this.metaWrites ??= this.writes.hash(this.key('meta'), ConversationRank.Meta));
  }

  /**
   * Every content write gives meta a new 'rev' (MetaField.revision) in the same flush: readers
   * that keep an answer (receipt details) know it still holds while 'rev' is unchanged, at the
   * cost of one field, not of reading the state again. One per step and conversation, however
   * many engine calls write it (the step's WriteSet knows). The open window is not content.
   */
  private revise(): HashWrites {
    const meta = this.metaAsIs;
    if (!meta.sets(MetaField.revision)) meta.set(MetaField.revision, newRevision());
    return meta;
  }

  /**
   * The conversation's kind, written when an event creates it, with the layout it is written in
   * from the start (MetaField.layout: readers need not look for an older build's keys).
   */
  create(kind: ConversationKind): void {
    this.meta.set('kind', kind);
    this.meta.set(
      MetaField.layout,
      !this.oneKeyIndex ? LOG_LAYOUT : this.logsInFields ? PACKED_LOG_LAYOUT : INDEX_LAYOUT,
    );
  }

  /** Members: meta's 'm:<user>' fields. */
  readonly members = new MemberFields(() => this.meta, MetaField.member);

  /** Read watermarks: meta's 'r:<user>' fields. */
  readonly read = new UserFields(() => this.meta, MetaField.read);

  /** Delivered watermarks: meta's 'd:<user>' fields. */
  readonly dlvd = new UserFields(() => this.meta, MetaField.dlvd);

  private get msg(): HashWrites {
    this.revise();
    return (this.msgWrites ??= this.writes.hash(this.key('msg')));
  }

  private get msgs(): SortedSetWrites {
    this.revise();
    return (this.msgsWrites ??= this.writes.sortedSet(this.key('msgs')));
  }

  private get ix(): SortedSetWrites {
    this.revise();
    return (this.ixWrites ??= this.writes.sortedSet(this.key('ix')));
  }

  /**
   * A message into the index (HSET msg and ZADD msgs, or ZADD ix). `previous`: what the index
   * held of this id before, whose `ix` member a new value replaces.
   */
  indexMessage(
    messageId: string,
    seq: number,
    sender: string,
    sentAt: string,
    previous: StoredMessage | undefined,
  ): void {
    if (!this.oneKeyIndex) {
      this.msg.set(messageId, formatMessage(seq, sender, sentAt));
      this.msgs.add(formatNumber(seq), messageId);
      return;
    }
    const entry = indexEntry(messageId, sender, sentAt);
    if (previous)
      for (const before of indexEntryForms(messageId, previous.sender, previous.sentAt))
        if (before !== entry) this.ix.remove(before);
    this.ix.add(formatNumber(seq), entry);
  }

  /** A message out of the index; `stored`: what it held of it (null: nothing parseable). */
  unindexMessage(messageId: string, stored: StoredMessage | null): void {
    if (!this.oneKeyIndex) {
      this.msg.delete(messageId);
      this.msgs.remove(messageId);
    } else if (stored) {
      for (const entry of indexEntryForms(messageId, stored.sender, stored.sentAt))
        this.ix.remove(entry);
    }
  }

  /** The index's keys get the conversation's expiry (refreshCore) where they hold anything. */
  expireIndex(state: ConversationState, ttlSeconds: number): void {
    if (this.oneKeyIndex) {
      if (state.indexedCount > 0) this.ix.expire(ttlSeconds);
      return;
    }
    if (state.messageFieldCount > 0) this.msg.expire(ttlSeconds);
    if (state.indexedCount > 0) this.msgs.expire(ttlSeconds);
  }

  /** 'Told up to' marks, by their field ('r:<reader>' …): meta's 't' + field (MetaField.told). */
  readonly notified = new UserFields(() => this.meta, MetaField.told);

  get win(): HashWrites {
    return (this.winWrites ??= this.writes.hash(this.key('win')));
  }

  /** Deleted message ids → seq: a receipt naming one is refused, its details answer 404. */
  get deleted(): HashWrites {
    this.revise();
    return (this.deletedWrites ??= this.writes.hash(
      this.key('deleted'),
      ConversationRank.Watermarks,
    ));
  }

  /** Members who marked the conversation unread (cleared by their next read). */
  get marked(): HashWrites {
    this.revise();
    return (this.markedWrites ??= this.writes.hash(
      this.key('marked'),
      ConversationRank.Watermarks,
    ));
  }

  /**
   * Who confirmed delivery of which message by id: one hash per conversation, a field per
   * (message, user) → when (stored-values.ts deliveredByField; a watermark by id: ranked with them).
   */
  get deliveredBy(): HashWrites {
    this.revise();
    return this.writes.hash(this.key('dlv'), ConversationRank.Watermarks);
  }

  /**
   * Forgets who confirmed a message that leaves the index: its fields for everyone who may have
   * confirmed it (ConversationState.everyone), and an older build's `dlv:<id>` hash.
   */
  forgetDeliveredBy(messageId: string, users: Iterable<string>, olderKeys: boolean): void {
    const by = this.deliveredBy;
    for (const user of users) by.delete(deliveredByField(messageId, user));
    if (olderKeys)
      this.writes.hash(`${this.prefix}dlv:${messageId}`, ConversationRank.Watermarks).del();
  }

  /**
   * Writes a change of members' logs in fields (PACKED_LOG_LAYOUT, MemberLog): to meta for a
   * direct chat, else to the `log` hash (logHashSuffix; `kind`: the conversation's, known once
   * it has members). Returns the `log` hash when it wrote there (its expiry is the caller's).
   */
  logFields(kind: ConversationKind | null, change: LogFieldWrites): HashWrites | null {
    if (change.set.length === 0 && change.deleted.length === 0) return null;
    const hash =
      logHashSuffix(kind) === 'meta'
        ? this.meta
        : (this.revise(), this.writes.hash(this.key('log')));
    for (const [field, value] of change.set) hash.set(field, value);
    for (const field of change.deleted) hash.delete(field);
    return hash === this.metaWrites ? null : hash;
  }

  /**
   * A member's log of read and delivered watermark moves in a key of its own, for a conversation
   * that keeps them there (no 'lv': an older build's; keys.ts memberLogSuffix; entries from
   * stored-values.ts logEntry).
   */
  memberLog(userId: string): SortedSetWrites {
    this.revise();
    return this.writes.sortedSet(this.prefix + memberLogSuffix(userId));
  }

  private key(suffix: ConversationSuffix): string {
    return this.prefix + suffix;
  }
}
