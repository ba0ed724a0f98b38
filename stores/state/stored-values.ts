/**
 * Values as the Lua scripts spell them in Redis (stores/redis/lua/includes/helpers.lua and the
 * scripts' headers). The in-memory engine writes the same keys for the same readers, so it must
 * format and parse exactly as the scripts do.
 */

import type { LogMove } from './member-log';

/**
 * The scripts' `str(n)` ('%.0f'): a whole number without exponent. Seqs, versions and times are
 * safe integers, for which String() prints the same digits.
 */
export function formatNumber(n: number): string {
  return Number.isInteger(n) && Math.abs(n) < 1e21 ? String(n) : n.toFixed(0);
}

/**
 * Lua's tonumber() of a stored string, or null where Lua gives nil. Close enough for the values
 * ticks stores (decimal integers); an empty or blank string is nil in Lua, 0 for Number().
 */
export function luaNumber(value: string | undefined | null): number | null {
  if (value === undefined || value === null || value.trim() === '') return null;
  const n = Number(value);
  return Number.isNaN(n) ? null : n;
}

/** A message as the `msg` hash holds it: "seq|sender|sent_at". */
export interface StoredMessage {
  seq: number;
  sender: string;
  /** As written (the script writes its argument untouched), digits only when parseable. */
  sentAt: string;
}

export function formatMessage(seq: number, sender: string, sentAt: string): string {
  return `${formatNumber(seq)}|${sender}|${sentAt}`;
}

// helpers.lua's parseMessage: '^(%d+)|(.*)|(%d+)$' — the sender may itself hold '|' (greedy).
const MESSAGE = /^(\d+)\|(.*)\|(\d+)$/s;

/** null where the script's parseMessage gives nil: such a message is unknown to every rule. */
export function parseMessage(value: string): StoredMessage | null {
  const m = MESSAGE.exec(value);
  return m ? { seq: Number(m[1]), sender: m[2]!, sentAt: m[3]! } : null;
}

/** A message as an `ix` member holds it (indexEntry): its id, sender and sent_at. */
export interface IndexedMessage {
  messageId: string;
  sender: string;
  sentAt: string;
}

/**
 * Member of the one-key message index (`ix`, keys.ts INDEX_LAYOUT) for a message, scored by its
 * seq: '<bytes of id>:<id>|<sender>#<sent_at in base 36>'. The id goes first with its length in
 * UTF-8 bytes, as Lua's #id counts (deliveredByField does the same), so that a lookup by id is an
 * exact prefix ('<bytes>:<id>|*', helpers.lua findIndexEntry) whatever characters ids hold; the
 * rest parses from the end (the sender may hold '|' or '#': the last '#' ends it). A time in base
 * 36 takes 8 characters where its decimal digits took 13 (−5 B per message, BENCHMARKS.md). A
 * sent_at that is not a safe integer's own digits (none passes validation) keeps the older
 * decimal form, '…|<sender>|<sent_at>', which every reader still takes: entries written before
 * are in it (indexEntryForms).
 */
export function indexEntry(messageId: string, sender: string, sentAt: string): string {
  const packed = base36Time(sentAt);
  return packed === null
    ? decimalIndexEntry(messageId, sender, sentAt)
    : `${indexHead(messageId)}|${sender}#${packed}`;
}

/**
 * Every member the index may hold for this message: indexEntry's and the older decimal form of
 * entries written before it. Removing an entry removes both (ZREM of one that is absent does
 * nothing).
 */
export function indexEntryForms(messageId: string, sender: string, sentAt: string): string[] {
  const entry = indexEntry(messageId, sender, sentAt);
  const decimal = decimalIndexEntry(messageId, sender, sentAt);
  return entry === decimal ? [entry] : [entry, decimal];
}

function indexHead(messageId: string): string {
  return `${Buffer.byteLength(messageId, 'utf8')}:${messageId}`;
}

function decimalIndexEntry(messageId: string, sender: string, sentAt: string): string {
  return `${indexHead(messageId)}|${sender}|${sentAt}`;
}

/** sent_at in base 36, or null where it is not the digits of a safe integer as String() prints it. */
function base36Time(sentAt: string): string | null {
  if (!/^\d{1,16}$/.test(sentAt)) return null;
  const n = Number(sentAt);
  return Number.isSafeInteger(n) && String(n) === sentAt ? n.toString(36) : null;
}

const INDEX_HEAD = /^(\d+):/;
const INDEX_TAIL = /^\|(.*)\|(\d+)$/s;
const INDEX_TAIL_36 = /^\|(.*)#([0-9a-z]+)$/s;

/** indexEntry's parts (either form), or null where helpers.lua parseIndexEntry gives nil. */
export function parseIndexEntry(member: string): IndexedMessage | null {
  const head = INDEX_HEAD.exec(member);
  if (!head) return null;
  const bytes = Number(head[1]);
  const rest = member.slice(head[0].length);
  let messageId: string;
  let tail: string;
  if (Buffer.byteLength(rest, 'utf8') === rest.length) {
    // ASCII (one byte a character): the common case, no Buffer.
    messageId = rest.slice(0, bytes);
    tail = rest.slice(bytes);
  } else {
    const buf = Buffer.from(rest, 'utf8');
    messageId = buf.subarray(0, bytes).toString('utf8');
    tail = buf.subarray(bytes).toString('utf8');
  }
  if (Buffer.byteLength(messageId, 'utf8') !== bytes) return null;
  const decimal = INDEX_TAIL.exec(tail);
  if (decimal) return { messageId, sender: decimal[1]!, sentAt: decimal[2]! };
  const packed = INDEX_TAIL_36.exec(tail);
  return packed
    ? { messageId, sender: packed[1]!, sentAt: String(parseInt(packed[2]!, 36)) }
    : null;
}

/**
 * A member's log entry (keys.ts memberLogSuffix) for a move of their read watermark to `seq` at
 * `at` (scored by seq) or of their delivered watermark (scored by -seq): reads are the positive
 * scores, deliveries the negative ones. The member is one integer, `at × 1000 + seq mod 1000`
 * for a read and minus that, minus 1, for a delivery (packedLogMember): Redis keeps an integer
 * of a listpack in 10 bytes where the older `<±seq>|<at>` string took 18 or more (−15 B per
 * message at the bench's workload, BENCHMARKS.md). The seq's last three digits keep two moves
 * made in the same millisecond apart, and the kinds never share a member (reads ≥ 0,
 * deliveries ≤ −1). A time too large to pack exactly (past the year 2255) keeps the string.
 * Readers take either form (helpers.lua logTime: receipt details are the only reader).
 */
export function logEntry(
  which: 'read' | 'delivered',
  seq: number,
  at: string,
): { score: string; member: string } {
  const score = formatNumber(which === 'read' ? seq : -seq);
  const packed = packedLogMember(which, seq, at);
  return { score, member: packed ?? `${score}|${at}` };
}

/**
 * The move a `log:<user>` entry stands for (logEntry, or the older `<±seq>|<at>`), or null where
 * its time does not parse: a read scored seq, a delivery scored -seq (helpers.lua logTime).
 */
export function logMoveOf(member: string, score: number): LogMove | null {
  if (!Number.isSafeInteger(score) || score === 0) return null;
  const which = score > 0 ? 'read' : 'delivered';
  const older = /\|(\d+)$/.exec(member);
  let at: number;
  if (older) at = Number(older[1]);
  else if (/^-?\d+$/.test(member)) {
    const n = Number(member);
    at = Math.floor((n < 0 ? -n - 1 : n) / 1000);
  } else return null;
  return Number.isSafeInteger(at) ? { which, seq: Math.abs(score), at } : null;
}

/** The largest time packedLogMember packs: `at × 1000 + 999` stays a safe integer. */
export const MAX_PACKED_LOG_AT = Math.floor((Number.MAX_SAFE_INTEGER - 999) / 1000);

/** logEntry's integer member, or null where `at` is not digits of a time it can pack exactly. */
function packedLogMember(which: 'read' | 'delivered', seq: number, at: string): string | null {
  if (!/^\d{1,13}$/.test(at)) return null;
  const time = Number(at);
  if (time > MAX_PACKED_LOG_AT) return null;
  const packed = time * 1000 + (seq % 1000);
  return formatNumber(which === 'read' ? packed : -packed - 1);
}

/**
 * Field of the conversation's `dlv` hash saying that `userId` confirmed delivery of the message
 * `messageId` by its id (= when): one hash per conversation, not one per message. The id goes
 * with its length in UTF-8 bytes, as Lua's #id counts ('<bytes>:<id>:<user>'), so that no two
 * (id, user) pairs share a field whatever characters they hold. By id, not by seq: two messages
 * may share a seq (an upstream fault) and must not share their confirmations.
 */
export function deliveredByField(messageId: string, userId: string): string {
  return `${Buffer.byteLength(messageId, 'utf8')}:${messageId}:${userId}`;
}

/** A 'told up to' mark of the `notified` hash: "seq|version|message_id". */
export interface NotifiedMark {
  seq: number;
  /** Source offset of the receipt that told; -1 for marks written before versions were kept. */
  version: number;
  messageId: string;
}

export const NO_MARK: NotifiedMark = { seq: 0, version: -1, messageId: '' };

const MARK = /^(\d+)\|(\d+)\|(.*)$/s;

/** apply-receipts' parseMark: a seq-only (older) mark has no version and no message. */
export function parseMark(value: string | undefined): NotifiedMark {
  if (value === undefined) return NO_MARK;
  const m = MARK.exec(value);
  if (!m) return { seq: luaNumber(value) ?? 0, version: -1, messageId: '' };
  return { seq: Number(m[1]), version: Number(m[2]), messageId: m[3]! };
}

/**
 * parseMark(value).seq, without building the mark: the marks are compared per receipt, and a mark
 * written today is its seq alone.
 */
export function markSeq(value: string | undefined): number {
  if (value === undefined) return 0;
  return value.includes('|') ? parseMark(value).seq : (luaNumber(value) ?? 0);
}

/**
 * A mark as it is written: its seq alone, the only part any rule reads. The version and message
 * that told went with it until the rule that re-told a redone receipt by them was replaced
 * (direct-update.ts): ~25 B of a direct chat's meta per mark. Marks written with them still
 * parse (parseMark).
 */
export function formatMark(mark: NotifiedMark): string {
  return formatNumber(mark.seq);
}

/** Field of a reader's mark in `notified`: 'r:<user>' (told read) or 'd:<user>' (told delivered). */
export function markField(which: 'read' | 'delivered', userId: string): string {
  return (which === 'read' ? 'r:' : 'd:') + userId;
}

/**
 * Field of how far a user's devices were told read by an unread sync ('s:<user>'), and of a told
 * group count of one message ('gr:<message>' read by, 'gd:<message>' delivered to): what a step
 * tells beside the marks (told-marks.ts, told-ahead.ts), never part of a state.
 */
export function syncField(userId: string): string {
  return `s:${userId}`;
}

export function countField(which: 'read' | 'delivered', messageId: string): string {
  return (which === 'read' ? 'gr:' : 'gd:') + messageId;
}

/** What a told field is (markField, syncField, countField), and whose: its user or message. */
export function toldFieldOf(field: string): { kind: ToldFieldKind; of: string } {
  const kind = toldFieldKind(field);
  return { kind, of: field.slice(kind === 'count' ? 3 : 2) };
}

export type ToldFieldKind = 'mark' | 'sync' | 'count';

/** toldFieldOf(field).kind, without building the answer (asked for every mark a step told). */
export function toldFieldKind(field: string): ToldFieldKind {
  if (field.startsWith('s:')) return 'sync';
  if (field.startsWith('gr:') || field.startsWith('gd:')) return 'count';
  return 'mark';
}

/** Field of a group window's range ending at `hi` (its value is the lowest start seen). */
export function windowRangeField(hi: number): string {
  return `r:${formatNumber(hi)}`;
}

/**
 * Field of a group window naming a sender to tell when it closes (a receipt newly covered one of
 * their messages); its value is '1'.
 */
export function windowSenderField(sender: string): string {
  return `s:${sender}`;
}

/** The sender a window field names, or null for the window's other fields. */
export function parseWindowSenderField(field: string): string | null {
  return field.startsWith('s:') ? field.slice(2) : null;
}

const RANGE_FIELD = /^r:(\d+)$/;

/** The range end a window field names, or null for the window's other fields. */
export function parseWindowRangeField(field: string): number | null {
  const m = RANGE_FIELD.exec(field);
  return m ? Number(m[1]) : null;
}
