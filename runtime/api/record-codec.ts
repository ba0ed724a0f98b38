import type { DeadLetterReason } from '../../schemas/types';
import type { TopicRole } from '../topics';

/** Decodes and encodes record values; implemented by the Avro codec over the schema registry. */
export interface RecordCodec {
  decode(value: Buffer): Promise<{ role: TopicRole; value: unknown }>;
  encode(role: TopicRole, value: never): Promise<Buffer>;
  /** Synchronous decode when the schema is known already (undefined when not): no promise per record. */
  decodeCached(value: Buffer): { role: TopicRole; value: unknown } | undefined;
  /** Synchronous encode. */
  encodeNow(role: TopicRole, value: never): Buffer;
}

/** A decoding failure that says which dead-letter reason applies. */
export interface ReasonedError extends Error {
  reason: DeadLetterReason;
}

export function isReasoned(err: unknown): err is ReasonedError {
  return err instanceof Error && typeof (err as Partial<ReasonedError>).reason === 'string';
}
