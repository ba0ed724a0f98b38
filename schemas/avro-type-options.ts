import * as avro from 'avsc';
import { BoundedArrayType } from './bounded-array-type';
import { BoundedMapType } from './bounded-map-type';
import { EpochMillisType } from './epoch-millis-type';

export type AvroTypeOptions = Partial<avro.ForSchemaOptions>;

/**
 * How every dev.ticks schema becomes an avsc type — readers built from the catalog and writer
 * schemas fetched from the registry alike, so that both decode to the shapes of types.ts.
 *
 * A fresh object per call: avsc stores the named types it creates in `opts.registry`, and a shared
 * registry would make the second envelope that mentions a name fail as a duplicate.
 *
 * `wrapUnions: 'auto'` leaves [null, T] unions unwrapped (T | null) and wraps unions of several
 * records ({ 'dev.ticks.X': value }), the only two shapes our schemas use (see types.ts).
 */
export function avroTypeOptions(): AvroTypeOptions {
  return {
    logicalTypes: { 'timestamp-millis': EpochMillisType },
    wrapUnions: 'auto',
    omitRecordMethods: true,
    registry: {},
    // Arrays and maps with checked block headers, so a bad record cannot hang the decoder.
    typeHook: (schema, opts) => {
      const type = typeOf(schema);
      if (type === 'array') return new BoundedArrayType(schema, opts);
      if (type === 'map') return new BoundedMapType(schema, opts);
      return undefined;
    },
  };
}

function typeOf(schema: unknown): unknown {
  return typeof schema === 'object' && schema !== null
    ? (schema as { type?: unknown }).type
    : undefined;
}
