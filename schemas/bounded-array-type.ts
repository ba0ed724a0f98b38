import * as avro from 'avsc';

/** The part of avsc's (untyped) Tap that an array reader needs. */
interface Tap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  skipLong(): void;
  _invalidate(): void;
}

/** What an items type or an items resolver offers when reading. */
interface ItemsReader {
  _read(tap: Tap): unknown;
  _skip(tap: Tap): void;
}

/**
 * An Avro array that refuses a block count larger than the bytes left in the buffer.
 *
 * avsc trusts the count: seven bytes of garbage that happen to start with a valid schema id can
 * announce 2^31 items, and avsc then loops (and allocates) for minutes before noticing that the
 * buffer ran out — one bad record would stall or crash its partition. Every item of every dev.ticks
 * array encodes to at least one byte (strings, unions), so a count above the remaining bytes is
 * proof of corruption: we invalidate the tap and the codec reports the record as undecodable.
 * (schemas/schema-catalog.test.ts checks that no dev.ticks array has items that can encode to zero
 * bytes.)
 *
 * avsc reuses `_read` for resolvers with `this` bound to the resolver, whose `itemsType` is the
 * items resolver, so one implementation serves both paths.
 */
export class BoundedArrayType extends avro.types.ArrayType {
  _read(tap: Tap): unknown[] {
    const items = this.itemsType as unknown as ItemsReader;
    let values: unknown[] | undefined;
    let i = 0;
    let n: number;
    while ((n = tap.readLong())) {
      if (n < 0) {
        n = -n;
        tap.skipLong(); // Block size in bytes, only useful to skip.
      }
      if (n > tap.buf.length - tap.pos) {
        tap._invalidate();
        return values ?? [];
      }
      values ??= new Array<unknown>(n);
      while (n--) {
        values[i++] = items._read(tap);
      }
    }
    return values ?? [];
  }

  _skip(tap: Tap): void {
    const items = this.itemsType as unknown as ItemsReader;
    let n: number;
    while ((n = tap.readLong())) {
      if (n < 0) {
        tap.pos += tap.readLong();
        continue;
      }
      if (n > tap.buf.length - tap.pos) {
        tap._invalidate();
        return;
      }
      while (n--) {
        items._skip(tap);
      }
    }
  }
}
