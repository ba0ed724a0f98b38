import type { ConversationKind } from '../../schemas/types';
import { MemberLog, NO_WRITES, type LogFieldWrites, type LogMove } from './member-log';
import { SeqIndex } from './seq-index';
import { formatMessage, parseMessage, type StoredMessage } from './stored-values';

/**
 * A rule needed who confirmed a message by id (`dlv`) and that was not loaded. Only the hashes a step
 * needs are kept in memory; the caller loads these ids and applies the same events again
 * (nothing was changed: the engine checks before it changes anything).
 */
export class StateNotLoadedError extends Error {
  override readonly name = 'StateNotLoadedError';
  readonly retriable = true;

  constructor(
    readonly conversationId: string,
    readonly messageIds: string[],
  ) {
    super(
      `conversation ${conversationId}: delivered-by-id state of ${messageIds.length} message(s) not loaded (${messageIds.slice(0, 5).join(', ')}${messageIds.length > 5 ? ', …' : ''})`,
    );
  }
}

// Rough V8 costs, to bound a cache by bytes (not to measure it): a string's header plus one byte
// a character, a hash table entry, a small object. Calibrated on 20,000 states shaped like the
// bench's (2 or 20 members, 6 messages): the heap grew 4.3 kB a state where the first constants
// (16/40/40/600) estimated 2.5 kB — hash tables grow by doubling, and every collection has a
// header of its own. Recalibrated 2026-12-04 once the rarely used collections (window, held,
// deleted, marked, deliveries by id, marks, expiry refreshes) are made on first use: loaded
// from a bench run's Redis (scripts/bench/state-heap.ts), an empty state took 1.4 kB, a direct
// chat of 5 messages 3.5 kB, a group of ~20 with 17 messages 10.4 kB; the constants below
// estimate them within 4 %.
const STRING = 24;
const ENTRY = 48;
const OBJECT = 64;
/** What an absent collection reads as: most states never hold a window, held receipts, deletions… */
const EMPTY_MAP: ReadonlyMap<unknown, unknown> = new Map();
/** The delivered-by-id hash of a message nobody confirmed by id yet (noDeliveriesYet): never written. */
const NOBODY: Map<string, string> = new Map();

function empty<K, V>(): ReadonlyMap<K, V> {
  return EMPTY_MAP as ReadonlyMap<K, V>;
}
const BASE = 1_300; // the object, its empty collections, the meta fields
const str = (s: string): number => STRING + s.length;

type Watermark = 'read' | 'dlvd';

/**
 * One conversation's hot state, as the Lua scripts keep it under the conversation's key prefix
 * (stores/redis/keys.ts): meta (kind, last_seq, last_at, touched, uver, rev, the members
 * and their read and delivered watermarks as 'm:', 'r:' and 'd:' fields, and the 'told up to'
 * marks, `notified` here, as 'tr:' and 'td:' fields), the message index (`ix`: id, sender and
 * sent_at by seq; in older layouts `msg`: id → "seq|sender|sent_at" and `msgs`: id by seq; held
 * here as those two), the open group window (`win`), the held receipts (`held`) and, only for the
 * messages loaded or touched, who confirmed delivery by id (`dlv`: (message, user) → when), and
 * the members' logs (MemberLog: short fields of meta or `log`, appended to in place, so held; an
 * older build's `log:<user>` keys are only ever added to, so they are written, never held).
 *
 * Mutations go through methods so that the seq index and the size estimate stay right; the
 * engine (processors/engine) records the matching Redis writes itself.
 */
export class ConversationState {
  /** meta.kind; null while no event has told it. */
  kind: ConversationKind | null = null;
  /** meta.last_seq (0 when absent). */
  lastSeq = 0;
  /**
   * meta holds 'last_msg' (the latest message's id), which builds before issue 16's compact meta
   * wrote and no rule reads: the next write of last_seq deletes it (messages-sent.ts).
   */
  staleLastMsg = false;
  lastAt: string | null = null;
  /**
   * When meta's expiry ends (ms, this process's clock): as loaded, or as this process's last
   * refresh set it (refreshCore); null: none, or not loaded.
   */
  metaExpiresAt: number | null = null;
  /**
   * meta holds 'touched' (the time of the last refresh), which builds before issue 16's compact
   * meta wrote: the next refresh deletes it (its remaining expiry tells the same).
   */
  staleTouched = false;
  /** meta.uver: the version of the latest update told about this conversation (0 when none). */
  updateVersion = 0;
  /** Whether updateVersion was raised to this incarnation's floor (see nextUpdateVersion). */
  versionFloored = false;
  /**
   * Loaded from the legacy layout (members, watermarks or marks in keys of their own, not in meta):
   * the next write puts them into meta and deletes those keys (conversationWrites).
   */
  legacyLayout = false;
  /**
   * The message index is one sorted set, `ix` (keys.ts INDEX_LAYOUT), not the `msg` hash and
   * `msgs` set: a conversation created by this build, or moved there by its first write
   * (conversationWrites). False for a state loaded with its index in the older keys.
   */
  oneKeyIndex = true;
  /**
   * Created by a build before MetaField.layout (meta has a kind but no 'lv'): per-message
   * `dlv:<id>` hashes (and per-member readlog/dlvlog keys) may exist. Deliveries by id are read
   * from them too (conversation-loader.ts), and a forgotten message's hash is deleted.
   */
  olderKeys = false;
  /**
   * Members' logs are short fields (keys.ts PACKED_LOG_LAYOUT, member-log.ts), held here as
   * MemberLogs: a conversation created by this build, or moved there by its first write. False
   * for one of an older build that keeps them in `log:<user>` keys (olderKeys: no 'lv').
   */
  logsInFields = true;
  /**
   * Loaded with its logs in `log:<user>` keys (LOG_LAYOUT or INDEX_LAYOUT), held here as
   * MemberLogs already: the next write puts them into fields and deletes those keys
   * (conversationWrites).
   */
  logsToMove = false;
  /**
   * When this process last set the expiry of a key it appends to (a log, a delivered-by hash),
   * by key suffix. Not loaded: after a load the first write refreshes each key once.
   */
  private expiryRefreshed?: Map<string, number>;

  private readonly memberSet = new Set<string>();
  private readonly watermarks: Record<Watermark, Map<string, number>> = {
    read: new Map(),
    dlvd: new Map(),
  };
  /** The msg hash; null where its value does not parse (the scripts then know no message). */
  private readonly messageValues = new Map<string, StoredMessage | null>();
  private readonly index = new SeqIndex();
  private notifiedFields?: Map<string, string>;
  /** Quiet floors (quietBelow); only states loaded with some have the map. */
  private quietFloors: Map<string, number> | undefined;
  private windowFields?: Map<string, string>;
  private deliveredById?: Map<string, Map<string, string>>;
  /** The `held` sorted set: receipts waiting for their message or membership → deadline. */
  private heldEntries?: Map<string, number>;
  /** The `deleted` hash: deleted message id → its seq (0 when it was not known here). */
  private deletedIds?: Map<string, number>;
  /** The `marked` hash: member → when they marked the conversation unread (until they read). */
  private markedBy?: Map<string, string>;
  private logs?: Map<string, MemberLog>;
  private bytes: number;

  constructor(
    readonly conversationId: string,
    /** The conversation's key prefix (RedisKeys.conversation): the scripts' KEYS[1]. */
    readonly prefix: string,
  ) {
    this.bytes = BASE + str(conversationId) + str(prefix);
  }

  /**
   * Whether a key this step writes to (and so exists after it) needs its expiry set: not when
   * this process set it less than `refreshMs` ago, as the core keys' refresh (refreshCore). A
   * key is only ever appended to, so one that got an expiry keeps it until the next refresh.
   */
  refreshExpiry(suffix: string, now: number, refreshMs: number): boolean {
    const last = this.expiryRefreshed?.get(suffix);
    if (last !== undefined && now - last < refreshMs) return false;
    if (last === undefined) this.bytes += ENTRY + str(suffix);
    (this.expiryRefreshed ??= new Map()).set(suffix, now);
    return true;
  }

  /** The members' logs held (logsInFields), by user. */
  get memberLogs(): ReadonlyMap<string, MemberLog> {
    return this.logs ?? (EMPTY_MAP as ReadonlyMap<string, MemberLog>);
  }

  /** A log as loaded (its fields, or the moves of an older build's key). */
  loadMemberLog(log: MemberLog): void {
    const before = this.logs?.get(log.userId);
    this.bytes += log.size - (before ? before.size : -(ENTRY + str(log.userId)));
    (this.logs ??= new Map()).set(log.userId, log);
  }

  /** MemberLog.append on the user's log (created empty when it has none): the fields to write. */
  logMove(userId: string, move: LogMove): LogFieldWrites {
    let log = this.logs?.get(userId);
    if (!log) this.loadMemberLog((log = new MemberLog(userId)));
    const before = log.size;
    const writes = log.append(move);
    this.bytes += log.size - before;
    return writes;
  }

  /** MemberLog.dropBelow on the user's log, if any: the fields to write. */
  dropLogBelow(userId: string, lowest: number): LogFieldWrites {
    const log = this.logs?.get(userId);
    if (!log) return NO_WRITES;
    const before = log.size;
    const writes = log.dropBelow(lowest);
    this.bytes += log.size - before;
    return writes;
  }

  /** Estimated heap bytes held, for a cache bounded by bytes. */
  get sizeBytes(): number {
    return this.bytes;
  }

  get members(): ReadonlySet<string> {
    return this.memberSet;
  }

  /**
   * Everyone who is or was a member: the members and whoever has a watermark (kept when a member
   * leaves), the users who may have confirmed a delivery by id (helpers.lua everyone).
   */
  everyone(): Set<string> {
    return new Set([
      ...this.memberSet,
      ...this.watermarks.read.keys(),
      ...this.watermarks.dlvd.keys(),
    ]);
  }

  /** SADD; false when already a member. */
  addMember(userId: string): boolean {
    if (this.memberSet.has(userId)) return false;
    this.memberSet.add(userId);
    this.bytes += ENTRY + str(userId);
    return true;
  }

  /** SREM; false when not a member. */
  removeMember(userId: string): boolean {
    if (!this.memberSet.delete(userId)) return false;
    this.bytes -= ENTRY + str(userId);
    return true;
  }

  get read(): ReadonlyMap<string, number> {
    return this.watermarks.read;
  }

  get dlvd(): ReadonlyMap<string, number> {
    return this.watermarks.dlvd;
  }

  /** HSET of a watermark hash; the rules decide whether it may move. */
  setWatermark(which: Watermark, userId: string, seq: number): void {
    const map = this.watermarks[which];
    if (!map.has(userId)) this.bytes += ENTRY + str(userId);
    map.set(userId, seq);
  }

  /** The message as the scripts' parseMessage reads it; undefined when unknown. */
  message(messageId: string): StoredMessage | undefined {
    return this.messageValues.get(messageId) ?? undefined;
  }

  /** Fields of the msg hash (parseable or not): whether the key exists. */
  get messageFieldCount(): number {
    return this.messageValues.size;
  }

  /** Entries of the msgs sorted set. */
  get indexedCount(): number {
    return this.index.size;
  }

  /** A msg hash field as stored (loading). */
  setMessageValue(messageId: string, value: string): void {
    this.replaceMessageValue(messageId, parseMessage(value));
  }

  /** A msgs sorted set entry (loading). */
  indexMessage(messageId: string, seq: number): void {
    if (this.index.score(messageId) === undefined) this.bytes += ENTRY + 16;
    this.index.set(messageId, seq);
  }

  /** A message sent: HSET msg and ZADD msgs as messages-sent does. Returns the msg value. */
  putMessage(messageId: string, seq: number, sender: string, sentAt: string): string {
    const value = formatMessage(seq, sender, sentAt);
    this.replaceMessageValue(messageId, parseMessage(value));
    this.indexMessage(messageId, seq);
    return value;
  }

  /**
   * Forgets the `count` oldest messages (msgs, msg, their delivered-by hashes); returns their
   * ids and what the msg hash held of them (null: nothing parseable), oldest first.
   */
  trimOldest(count: number): Array<[string, StoredMessage | null]> {
    const removed: Array<[string, StoredMessage | null]> = [];
    for (const [id] of this.index.removeOldest(count)) {
      const old = this.messageValues.get(id) ?? null;
      if (this.messageValues.delete(id)) this.bytes -= ENTRY + str(id) + messageBytes(old);
      this.bytes -= ENTRY + 16;
      this.forgetDeliveredBy(id);
      removed.push([id, old]);
    }
    return removed;
  }

  private forgetDeliveredBy(id: string): void {
    const by = this.deliveredById?.get(id);
    if (!by) return;
    for (const [user, at] of by) this.bytes -= ENTRY + str(user) + str(at);
    this.bytes -= ENTRY + str(id) + (by === NOBODY ? 0 : OBJECT);
    this.deliveredById!.delete(id);
  }

  /** The lowest seq in the message index (undefined when empty). */
  get lowestIndexedSeq(): number | undefined {
    return this.index.lowestSeq;
  }

  /** ZCOUNT msgs (seq +inf: the unread count of a reader at `seq`. */
  countAfter(seq: number): number {
    return this.index.countAbove(seq);
  }

  /** ZREVRANGEBYSCORE msgs upTo (above LIMIT 0 limit. */
  newest(upTo: number, above: number, limit: number): string[] {
    return this.index.newest(upTo, above, limit);
  }

  /** The msgs sorted set, in Redis' order. */
  indexed(): IterableIterator<[string, number]> {
    return this.index.entries();
  }

  get notified(): ReadonlyMap<string, string> {
    return this.notifiedFields ?? empty();
  }

  setNotified(field: string, value: string): void {
    this.notifiedFields ??= new Map();
    this.bytes += fieldDelta(this.notifiedFields, field, value);
    this.notifiedFields.set(field, value);
  }

  /**
   * The quiet floor of a 'told up to' field ('r:', 'd:' or an unread sync's 's:<user>'): how far
   * an earlier incarnation may have told it, written ahead of its updates and never confirmed
   * in this state (told-ahead.ts). Nothing below it is told; at or above it, as usual. 0: none.
   */
  quietBelow(field: string): number {
    return this.quietFloors?.get(field) ?? 0;
  }

  /** Told at or above it: the floor has done its work (a lower value may be true again). */
  clearQuietFloor(field: string): void {
    if (this.quietFloors?.delete(field)) this.bytes -= ENTRY + str(field);
  }

  setQuietFloor(field: string, seq: number): void {
    if (seq <= this.quietBelow(field)) return;
    if (!this.quietFloors) this.quietFloors = new Map();
    if (!this.quietFloors.has(field)) this.bytes += ENTRY + str(field);
    this.quietFloors.set(field, seq);
  }

  /** The open group window's fields (ver, src, absorbed, r:<hi>); empty when none is open. */
  get window(): ReadonlyMap<string, string> {
    return this.windowFields ?? empty();
  }

  setWindowField(field: string, value: string): void {
    this.windowFields ??= new Map();
    this.bytes += fieldDelta(this.windowFields, field, value);
    this.windowFields.set(field, value);
  }

  deleteWindow(): void {
    for (const [field, value] of this.window) this.bytes -= ENTRY + str(field) + str(value);
    this.windowFields = undefined;
  }

  /** Who confirmed delivery of this message by id (user → at); undefined when not loaded. */
  deliveredBy(messageId: string): ReadonlyMap<string, string> | undefined {
    return this.deliveredById?.get(messageId);
  }

  /** Ids whose delivered-by-id hash is held. */
  deliveredByLoaded(): IterableIterator<string> {
    return (this.deliveredById ?? empty<string, Map<string, string>>()).keys();
  }

  /** Puts who confirmed a message by id, as read from Redis (empty for nobody). */
  loadDeliveredBy(messageId: string, entries: Iterable<[string, string]>): void {
    const old = this.deliveredById?.get(messageId);
    if (!old) this.bytes += ENTRY + str(messageId) + OBJECT;
    else if (old === NOBODY) this.bytes += OBJECT;
    else for (const [user, at] of old) this.bytes -= ENTRY + str(user) + str(at);
    const map = new Map<string, string>();
    for (const [user, at] of entries) {
      map.set(user, at);
      this.bytes += ENTRY + str(user) + str(at);
    }
    (this.deliveredById ??= new Map()).set(messageId, map);
  }

  /**
   * A message this state has just indexed for the first time, above every seq Redis held when
   * it was loaded: nobody can have confirmed it by id yet (only this process writes the
   * conversation, and a receipt waits for its message), so its delivered-by-id hash is known
   * empty without a read. Shares one empty map until someone confirms it.
   */
  noDeliveriesYet(messageId: string): void {
    if (this.deliveredById?.has(messageId)) return;
    this.bytes += ENTRY + str(messageId);
    (this.deliveredById ??= new Map()).set(messageId, NOBODY);
  }

  /** Records a confirmation by id (first kept): true when the user is new there. */
  markDelivered(messageId: string, userId: string, at: string): boolean {
    let map = this.deliveredById?.get(messageId);
    if (!map) throw new StateNotLoadedError(this.conversationId, [messageId]);
    if (map.has(userId)) return false;
    if (map === NOBODY) {
      this.bytes += OBJECT;
      this.deliveredById!.set(messageId, (map = new Map()));
    }
    map.set(userId, at);
    this.bytes += ENTRY + str(userId) + str(at);
    return true;
  }

  /** Whether receipts are held for this conversation (the scripts' has_held). */
  get hasHeld(): boolean {
    return (this.heldEntries?.size ?? 0) > 0;
  }

  /** The held receipts (entry → deadline), as the `held` sorted set keeps them. */
  get held(): ReadonlyMap<string, number> {
    return this.heldEntries ?? empty();
  }

  /** ZADD held deadline entry. */
  hold(entry: string, deadline: number): void {
    this.heldEntries ??= new Map();
    if (!this.heldEntries.has(entry)) this.bytes += ENTRY + str(entry) + 16;
    this.heldEntries.set(entry, deadline);
  }

  /** ZREM held entry; false when it was not held. */
  release(entry: string): boolean {
    if (!this.heldEntries?.delete(entry)) return false;
    this.bytes -= ENTRY + str(entry) + 16;
    return true;
  }

  /** Whether this message id was deleted (kept after the message itself is forgotten). */
  isDeleted(messageId: string): boolean {
    return this.deletedIds?.has(messageId) ?? false;
  }

  /** The `deleted` hash: deleted id → seq. */
  get deleted(): ReadonlyMap<string, number> {
    return this.deletedIds ?? empty();
  }

  /** HSET deleted id seq; false when already deleted. */
  markDeleted(messageId: string, seq: number): boolean {
    this.deletedIds ??= new Map();
    if (this.deletedIds.has(messageId)) return false;
    this.deletedIds.set(messageId, seq);
    this.bytes += ENTRY + str(messageId) + 16;
    return true;
  }

  /**
   * Forgets one message (msg, msgs, its delivered-by hash) as a deletion does; false when the
   * index did not know it.
   */
  forgetMessage(messageId: string): boolean {
    if (!this.index.remove(messageId)) return false;
    this.bytes -= ENTRY + 16;
    const old = this.messageValues.get(messageId);
    if (this.messageValues.delete(messageId))
      this.bytes -= ENTRY + str(messageId) + messageBytes(old ?? null);
    this.forgetDeliveredBy(messageId);
    return true;
  }

  /** Members who marked the conversation unread (member → when). */
  get marked(): ReadonlyMap<string, string> {
    return this.markedBy ?? empty();
  }

  /** HSET marked user at; false when already marked. */
  markUnread(userId: string, at: string): boolean {
    this.markedBy ??= new Map();
    if (this.markedBy.has(userId)) return false;
    this.markedBy.set(userId, at);
    this.bytes += ENTRY + str(userId) + str(at);
    return true;
  }

  /** HDEL marked user; false when not marked. */
  clearUnreadMark(userId: string): boolean {
    const at = this.markedBy?.get(userId);
    if (at === undefined) return false;
    this.markedBy!.delete(userId);
    this.bytes -= ENTRY + str(userId) + str(at);
    return true;
  }

  /** The earliest deadline of the held receipts; null when none is held. */
  earliestHeldDeadline(): number | null {
    let earliest: number | null = null;
    for (const deadline of this.held.values())
      if (earliest === null || deadline < earliest) earliest = deadline;
    return earliest;
  }

  private replaceMessageValue(messageId: string, message: StoredMessage | null): void {
    const old = this.messageValues.get(messageId);
    if (old !== undefined) this.bytes -= messageBytes(old);
    else if (!this.messageValues.has(messageId)) this.bytes += ENTRY + str(messageId);
    this.bytes += messageBytes(message);
    this.messageValues.set(messageId, message);
  }
}

function messageBytes(m: StoredMessage | null): number {
  return m ? OBJECT + str(m.sender) + str(m.sentAt) : 0;
}

function fieldDelta(map: ReadonlyMap<string, string>, field: string, value: string): number {
  const old = map.get(field);
  return old === undefined ? ENTRY + str(field) + str(value) : value.length - old.length;
}
