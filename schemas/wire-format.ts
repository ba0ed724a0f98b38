import { NotWireFormatError } from './codec-errors';

/**
 * Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian int, then the Avro
 * binary body. Plain functions so the hot path pays for nothing but two reads.
 */
export const MAGIC_BYTE = 0;
export const HEADER_SIZE = 5;

/** The schema id a framed record names; throws NotWireFormatError for anything else. */
export function readSchemaId(bytes: Buffer): number {
  if (bytes.length < HEADER_SIZE) {
    throw new NotWireFormatError(
      `${bytes.length} bytes is shorter than the 5-byte wire-format header`,
    );
  }
  if (bytes[0] !== MAGIC_BYTE) {
    throw new NotWireFormatError(`first byte is ${bytes[0]}, not the wire-format magic byte 0`);
  }
  return bytes.readInt32BE(1);
}

/** Writes the 5-byte header for `schemaId` at the start of `target`. */
export function writeHeader(target: Buffer, schemaId: number): void {
  target[0] = MAGIC_BYTE;
  target.writeInt32BE(schemaId, 1);
}
