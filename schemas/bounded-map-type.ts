import * as avro from 'avsc';
import { Blocks, bytesLeft, type Tap, type ValueReader } from './avro-blocks';

/**
 * An Avro map whose block headers are checked before they are used (see Blocks). No dev.ticks
 * schema has a map, but a writer's schema from the registry may add one, and skipping it then
 * runs avsc's map code, which loops forever on a negative block size like its arrays do. Every
 * entry has a key of at least one byte, so a map holds at most the bytes left when it begins.
 * avsc gives resolvers the reader's `_read`, so this one serves both paths.
 */
export class BoundedMapType extends avro.types.MapType {
  _read(tap: Tap): Record<string, unknown> {
    const values = this.valuesType as ValueReader;
    const map: Record<string, unknown> = {};
    const blocks = new Blocks('map', bytesLeft(tap));
    for (let n = blocks.next(tap); n > 0; n = blocks.next(tap)) {
      while (n--) {
        const key = tap.readString();
        map[key] = values._read(tap);
      }
    }
    return map;
  }

  _skip(tap: Tap): void {
    const values = this.valuesType as ValueReader;
    const blocks = new Blocks('map', bytesLeft(tap));
    for (let n = blocks.next(tap); n > 0; n = blocks.next(tap)) {
      if (blocks.size >= 0) tap.pos += blocks.size;
      else
        while (n--) {
          tap.skipString();
          values._skip(tap);
        }
    }
  }
}
