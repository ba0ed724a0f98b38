import * as avro from 'avsc';
import { BoundedArrayType } from './bounded-array-type';
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
    typeHook: (schema, opts) =>
      isArraySchema(schema) ? new BoundedArrayType(schema, opts) : undefined,
  };
}

function isArraySchema(schema: unknown): boolean {
  return (
    typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'array'
  );
}
