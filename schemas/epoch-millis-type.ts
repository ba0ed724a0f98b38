import * as avro from 'avsc';

/**
 * `timestamp-millis` as a plain number of epoch milliseconds. avsc has no built-in for it; we pick
 * number over Date so that decoding allocates nothing and windows/latency arithmetic stays integer.
 * Writing rejects anything but a safe integer (a Date is a bug upstream, not something to coerce).
 */
export class EpochMillisType extends avro.types.LogicalType {
  protected override _fromValue(value: number): number {
    return value;
  }

  protected override _toValue(value: unknown): number | undefined {
    return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
  }

  /** Reads a writer's plain long or int (a schema that predates the logical type) as well as our own. */
  protected override _resolve(writer: avro.Type): ((value: number) => number) | undefined {
    if (avro.Type.isType(writer, 'long', 'int', 'logical:timestamp-millis')) {
      return (value) => value;
    }
    return undefined;
  }
}
