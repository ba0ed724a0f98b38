import * as avro from 'avsc';
import {
  Blocks,
  bytesLeft,
  canEncodeToZeroBytes,
  MAX_ZERO_BYTE_ITEMS,
  type Tap,
  type ValueReader,
} from './avro-blocks';

/** What avsc's createResolver hands to a reader type's `_update`. */
interface Resolver {
  itemsType: unknown;
  _read: (this: Resolver, tap: Tap) => unknown;
}

const avscUpdate = (
  avro.types.ArrayType.prototype as unknown as {
    _update(this: avro.types.ArrayType, resolver: Resolver, writer: avro.Type, opts: unknown): void;
  }
)._update;

/**
 * An Avro array whose block headers are checked before they are used (see Blocks): one bad record
 * can neither loop forever nor allocate without bound; it fails with a CorruptBlockError, which
 * the codec reports as UNDECODABLE.
 *
 * The items an array may hold in all are the bytes left when it begins, as each item takes at
 * least one byte — unless the items can encode to zero bytes (null, empty records: no dev.ticks
 * array has such items, but a writer's schema from the registry may), then MAX_ZERO_BYTE_ITEMS.
 * When a record is read through a resolver, that depends on the writer's items, which only
 * `_update` sees: it gives the resolver a reader that knows.
 */
export class BoundedArrayType extends avro.types.ArrayType {
  _read(tap: Tap): unknown[] {
    return readArray(tap, this.itemsType as unknown as ValueReader, itemsCanBeEmpty(this));
  }

  _skip(tap: Tap): void {
    const items = this.itemsType as unknown as ValueReader;
    const blocks = new Blocks('array', limit(tap, itemsCanBeEmpty(this)));
    for (let n = blocks.next(tap); n > 0; n = blocks.next(tap)) {
      if (blocks.size >= 0) tap.pos += blocks.size;
      else while (n--) items._skip(tap);
    }
  }

  _update(resolver: Resolver, writer: avro.Type, opts: unknown): void {
    avscUpdate.call(this, resolver, writer, opts);
    if (!(writer instanceof avro.types.ArrayType)) return;
    const itemsCanBeEmpty = canEncodeToZeroBytes(writer.itemsType);
    resolver._read = function (this: Resolver, tap: Tap) {
      return readArray(tap, this.itemsType as ValueReader, itemsCanBeEmpty);
    };
  }
}

/** Per array type; avsc freezes its types, so this cannot be a field. */
const emptyItems = new WeakMap<avro.types.ArrayType, boolean>();

// Lazily: a recursive schema's items may not be complete while the array type is being built.
function itemsCanBeEmpty(type: avro.types.ArrayType): boolean {
  let known = emptyItems.get(type);
  if (known === undefined) emptyItems.set(type, (known = canEncodeToZeroBytes(type.itemsType)));
  return known;
}

function limit(tap: Tap, itemsCanBeEmpty: boolean): number {
  return itemsCanBeEmpty ? MAX_ZERO_BYTE_ITEMS : bytesLeft(tap);
}

function readArray(tap: Tap, items: ValueReader, itemsCanBeEmpty: boolean): unknown[] {
  const blocks = new Blocks('array', limit(tap, itemsCanBeEmpty));
  let values: unknown[] | undefined;
  let i = 0;
  for (let n = blocks.next(tap); n > 0; n = blocks.next(tap)) {
    values ??= new Array<unknown>(n);
    while (n--) values[i++] = items._read(tap);
  }
  return values ?? [];
}
