/**
 * A member's log of watermark moves, for receipt details ("read by Ana 10:02"): when their read
 * or delivered watermark moved to which seq. Since PACKED_LOG_LAYOUT (keys.ts) it is not a sorted
 * set of its own (`log:<user>`, a key per member) but hash fields of short strings — in meta for
 * a direct chat, in the conversation's `log` hash for a group — each move a few characters: a
 * key costs ~90 B before it holds anything, and most members' logs hold a handful of moves
 * (BENCHMARKS.md "Member logs in fields"). helpers.lua reads and writes the same format.
 *
 * A log is chunks of at most LOG_CHUNK_CHARS characters, so that a hash stays a listpack
 * (`hash-max-listpack-value` 64) and a move rewrites one short string, never the whole log: the
 * newest chunk is the field `l:<user>`; when a move would overflow it, it is kept as `l<n>:<user>`
 * (n = 1, 2, … oldest first) and the move starts a new `l:<user>`. Each chunk decodes alone.
 *
 * A move is a flag digit (1: delivered, 2: the seq went down from the move before, 4: the time
 * did) then |seq − the previous move's seq| and |at − the previous move's at|, each a base-32
 * number whose last digit is one of DIGITS and the ones before it of MORE (the first move of a
 * chunk counts from 0). Every value stays below 2^53, so JavaScript and Lua compute it exactly.
 */

export type LogKind = 'read' | 'delivered';

/** One move of a member's watermark: to `seq` at `at` (epoch ms). */
export interface LogMove {
  which: LogKind;
  seq: number;
  at: number;
}

/** The longest a chunk gets (Redis' default hash-max-listpack-value). */
export const LOG_CHUNK_CHARS = 64;

/** A number's last base-32 digit (0–31)… */
const DIGITS = '0123456789abcdefghijklmnopqrstuv';
/** …and the digits before it: a number ends at its first character of DIGITS. */
const MORE = 'wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_';

const DIGIT_VALUE = new Map<string, { value: number; last: boolean }>([
  ...[...DIGITS].map((c, value) => [c, { value, last: true }] as const),
  ...[...MORE].map((c, value) => [c, { value, last: false }] as const),
]);

function encodeNumber(n: number): string {
  let out = DIGITS[n % 32]!;
  for (let rest = Math.floor(n / 32); rest > 0; rest = Math.floor(rest / 32))
    out = MORE[rest % 32]! + out;
  return out;
}

/** A move, counted from `previous` (the move before it in the chunk; null: the chunk's first). */
export function encodeMove(previous: LogMove | null, move: LogMove): string {
  const seqStep = move.seq - (previous?.seq ?? 0);
  const atStep = move.at - (previous?.at ?? 0);
  const flags = (move.which === 'delivered' ? 1 : 0) | (seqStep < 0 ? 2 : 0) | (atStep < 0 ? 4 : 0);
  return DIGITS[flags]! + encodeNumber(Math.abs(seqStep)) + encodeNumber(Math.abs(atStep));
}

/** A chunk's moves, oldest first; throws on a chunk that is not in the format. */
export function decodeChunk(chunk: string): LogMove[] {
  const moves: LogMove[] = [];
  let i = 0;
  const number = (): number => {
    let n = 0;
    for (;;) {
      const digit = DIGIT_VALUE.get(chunk[i++] ?? '');
      if (!digit) throw new Error(`not a member log chunk: ${JSON.stringify(chunk)}`);
      n = n * 32 + digit.value;
      if (digit.last) return n;
    }
  };
  let seq = 0;
  let at = 0;
  while (i < chunk.length) {
    const flags = number();
    if (flags > 7) throw new Error(`not a member log chunk: ${JSON.stringify(chunk)}`);
    const seqStep = number();
    const atStep = number();
    seq += flags & 2 ? -seqStep : seqStep;
    at += flags & 4 ? -atStep : atStep;
    moves.push({ which: flags & 1 ? 'delivered' : 'read', seq, at });
  }
  return moves;
}

/**
 * `s` as one flat string: V8 keeps a concatenation as a tree of its parts (a rope) until
 * something reads it whole, and a chunk held for the state's life, appended to move by move,
 * would stay a rope of a dozen heap objects. Reading a character makes V8 flatten it.
 */
function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}

/** The field of a member's chunk: `l:<user>` for the newest, `l<n>:<user>` for the n-th kept. */
export function logField(userId: string, kept?: number): string {
  return `l${kept ?? ''}:${userId}`;
}

const LOG_FIELD = /^l(\d*):(.*)$/s;

/** The user and chunk number (null: the newest) of a log field, or null for another field. */
export function parseLogField(field: string): { userId: string; kept: number | null } | null {
  const m = LOG_FIELD.exec(field);
  if (!m) return null;
  return { userId: m[2]!, kept: m[1] === '' ? null : Number(m[1]) };
}

/** What a change to a member's log writes: fields to set, fields to delete. */
export interface LogFieldWrites {
  readonly set: ReadonlyArray<readonly [field: string, value: string]>;
  readonly deleted: readonly string[];
}

/** A change that writes nothing (a redo, nothing to drop). */
export const NO_WRITES: LogFieldWrites = { set: [], deleted: [] };

/**
 * One member's log as the engine holds it: its chunks, oldest first (the last is the newest,
 * `l:<user>`), and the highest seq each kind reached, so that a move redone (a step replayed
 * after its log landed and its watermarks did not) is not logged twice.
 */
export class MemberLog {
  private readonly chunks: string[] = [];
  private last: LogMove | null = null;
  // The highest seq each kind reached, as numbers (no object per log: the engine holds many).
  private highestRead = 0;
  private highestDelivered = 0;
  /** Characters held, kept as chunks change (a move must not cost a pass over the log). */
  private chars = 0;
  /** The newest chunk's field, built once (a move writes it). */
  private readonly headField: string;

  constructor(readonly userId: string) {
    this.headField = logField(userId);
  }

  /** A log from its stored chunks (by field: parseLogField), in any order. */
  static fromFields(
    userId: string,
    chunks: Array<{ kept: number | null; value: string }>,
  ): MemberLog {
    const log = new MemberLog(userId);
    const ordered = [...chunks].sort(
      (a, b) => (a.kept ?? Number.MAX_SAFE_INTEGER) - (b.kept ?? Number.MAX_SAFE_INTEGER),
    );
    for (const { value } of ordered) log.adopt(value);
    return log;
  }

  /**
   * The log of `moves` in seq order (then time): a kind's first move to a seq kept, the one a
   * reader takes (what the move of an older build's key writes; helpers.lua's restore merges alike).
   */
  static inSeqOrder(userId: string, moves: readonly LogMove[]): MemberLog {
    const log = new MemberLog(userId);
    for (const move of [...moves].sort((a, b) => a.seq - b.seq || a.at - b.at)) log.append(move);
    return log;
  }

  /** Moves, oldest chunk first. */
  moves(): LogMove[] {
    return this.chunks.flatMap(decodeChunk);
  }

  /** Characters held (the engine's size estimate). */
  get size(): number {
    return this.chars;
  }

  /**
   * Logs a move, unless the log already has one of its kind at its seq or beyond (a redo).
   * Returns the fields written (none for a redo).
   */
  append(move: LogMove): LogFieldWrites {
    if (move.seq <= this.highestOf(move.which)) return NO_WRITES;
    const before = this.chunks.length;
    this.pack(move);
    const set: Array<[string, string]> = [[this.headField, this.chunks[this.chunks.length - 1]!]];
    // The chunk the move did not fit in is kept under its number.
    if (before > 0 && this.chunks.length > before)
      set.unshift([logField(this.userId, before), this.chunks[before - 1]!]);
    return { set, deleted: [] };
  }

  /**
   * Forgets the moves below `lowest` (a move to seq s tells when the messages up to s were
   * read: below the oldest message kept it serves none), packing what is left into chunks anew.
   */
  dropBelow(lowest: number): LogFieldWrites {
    const moves = this.moves();
    const kept = moves.filter((m) => m.seq >= lowest);
    if (kept.length === moves.length) return NO_WRITES;
    const before = this.chunks.length;
    this.chunks.length = 0;
    this.chars = 0;
    this.last = null;
    for (const m of kept) this.pack(m);
    const set = this.fields();
    const deleted: string[] = [];
    // The kept chunks numbered from the new count on, and the newest when none is left.
    for (let n = Math.max(this.chunks.length, 1); n < before; n++)
      deleted.push(logField(this.userId, n));
    if (this.chunks.length === 0) deleted.push(logField(this.userId));
    return { set, deleted };
  }

  /** Every field the log holds, as stored (a move of the log to another key). */
  fields(): Array<[string, string]> {
    return this.chunks.map((c, i) => [
      i === this.chunks.length - 1 ? this.headField : logField(this.userId, i + 1),
      c,
    ]);
  }

  /** Appends a stored chunk whole (loading). */
  private adopt(chunk: string): void {
    const moves = decodeChunk(chunk);
    this.chunks.push(chunk);
    this.chars += chunk.length;
    for (const m of moves) this.raise(m);
    this.last = moves.at(-1) ?? this.last;
  }

  private highestOf(which: LogKind): number {
    return which === 'read' ? this.highestRead : this.highestDelivered;
  }

  private raise(move: LogMove): void {
    if (move.which === 'read') this.highestRead = Math.max(this.highestRead, move.seq);
    else this.highestDelivered = Math.max(this.highestDelivered, move.seq);
  }

  /** Adds a move to the newest chunk, or a new one when it would overflow. */
  private pack(move: LogMove): void {
    this.raise(move);
    const n = this.chunks.length;
    const step = n === 0 ? '' : encodeMove(this.last, move);
    this.last = move;
    if (n > 0 && this.chunks[n - 1]!.length + step.length <= LOG_CHUNK_CHARS) {
      this.chunks[n - 1] = flat(this.chunks[n - 1]! + step);
      this.chars += step.length;
    } else {
      const fresh = encodeMove(null, move);
      this.chunks.push(fresh);
      this.chars += fresh.length;
    }
  }
}
