import * as avro from 'avsc';

/** The part of avsc's (untyped) Tap that reading blocks needs. */
export interface Tap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  readString(): string;
  skipString(): void;
}

/** What an items or values type (or its resolver) offers when reading. */
export interface ValueReader {
  _read(tap: Tap): unknown;
  _skip(tap: Tap): void;
}

/**
 * Items of an array whose items encode to zero bytes (null, empty records) that one array may
 * hold: the bytes left cannot bound those, so this does.
 */
export const MAX_ZERO_BYTE_ITEMS = 1_000_000;

/**
 * A block-encoded array or map whose header cannot be right. The codec reports the record as
 * UNDECODABLE with this message, and the record goes to the dead letters with it.
 */
export class CorruptBlockError extends Error {
  override readonly name = 'CorruptBlockError';
}

/**
 * Avro arrays and maps come in blocks: an item count, negated when the block's size in bytes
 * follows, then the items; a count of 0 ends them. avsc trusts both numbers. A negative size moves
 * the position backwards when a field is skipped (the bytes `01 03` — count -1, size -2 — read the
 * same header again, forever), a huge count loops and allocates for minutes. Blocks reads a
 * header and refuses, before anything is allocated or skipped:
 * - a count that is not an integer, or more items than `left` (what the array or map may still
 *   hold: the bytes left when it began, since each item takes at least one byte);
 * - a size below 0 or beyond the bytes left.
 */
export class Blocks {
  /** Byte size of the block whose header was read last; -1 when it gave none. */
  size = -1;

  constructor(
    private readonly what: 'array' | 'map',
    private left: number,
  ) {}

  /** The item count of the next block; 0 when there are no more. */
  next(tap: Tap): number {
    let count = tap.readLong();
    this.size = -1;
    if (count === 0) return 0;
    if (count < 0) {
      count = -count;
      const size = tap.readLong();
      const bytesLeft = tap.buf.length - tap.pos;
      if (!(Number.isSafeInteger(size) && size >= 0 && size <= bytesLeft))
        throw new CorruptBlockError(
          `${this.what} block size ${size} is ${size < 0 ? 'negative' : `beyond the ${bytesLeft} bytes left`}`,
        );
      this.size = size;
    }
    if (!(Number.isSafeInteger(count) && count <= this.left))
      throw new CorruptBlockError(
        `${this.what} block announces ${count} items, more than the ${this.left} that can be left`,
      );
    this.left -= count;
    return count;
  }
}

/** The bytes after the tap's position: no array or map there can hold more items of ≥ 1 byte. */
export function bytesLeft(tap: Tap): number {
  return Math.max(0, tap.buf.length - tap.pos);
}

/** Whether some value of `type` encodes to zero bytes (null, or a record of such fields). */
export function canEncodeToZeroBytes(type: avro.Type, seen = new Set<avro.Type>()): boolean {
  if (type.typeName === 'null') return true;
  if (seen.has(type)) return false; // A record that holds itself has no finite value.
  seen.add(type);
  if (type.typeName === 'record' || type.typeName === 'error') {
    return (type as avro.types.RecordType).fields.every((field) =>
      canEncodeToZeroBytes(field.type, seen),
    );
  }
  if (type.typeName === 'fixed') return (type as avro.types.FixedType).size === 0;
  if (type instanceof avro.types.LogicalType)
    return canEncodeToZeroBytes(type.underlyingType, seen);
  return false;
}
