import type { DeadLetterReason } from './types';

/**
 * A record the codec cannot turn into a value, or a value it cannot turn into a record. Retrying
 * cannot help: the record goes to the dead-letter topic with `reason`.
 */
export abstract class CodecError extends Error {
  abstract readonly reason: DeadLetterReason;
  readonly retriable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The bytes are not Confluent wire format: no magic byte 0, or shorter than its 5-byte header. */
export class NotWireFormatError extends CodecError {
  readonly reason = 'UNDECODABLE';
}

/** The registry does not know the schema id, or it is not the envelope of a ticks topic. */
export class UnknownSchemaError extends CodecError {
  readonly reason = 'UNKNOWN_SCHEMA';

  constructor(
    message: string,
    readonly schemaId: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The header is fine but the body does not decode with the schema it names. */
export class UndecodableBodyError extends CodecError {
  readonly reason = 'UNDECODABLE';

  constructor(
    message: string,
    readonly schemaId: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A value to encode does not match its schema; `paths` lists the offending fields. */
export class InvalidFieldsError extends CodecError {
  readonly reason = 'INVALID_FIELDS';

  constructor(
    message: string,
    readonly paths: string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The registry could not be reached or failed; the same call may succeed later. */
export class SchemaRegistryUnavailableError extends Error {
  readonly retriable = true;

  constructor(
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Schema registry not reachable at ${url} — run \`npm run stack:up\`${describe(options?.cause)}`,
      options,
    );
    this.name = new.target.name;
  }
}

/**
 * The registry refused a schema or a setting of `subject`: 409 when the schema is incompatible
 * with the subject's earlier versions, 422 when it is invalid.
 */
export class SchemaRejectedError extends Error {
  readonly retriable = false;

  constructor(
    readonly subject: string,
    readonly status: number | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    const http = status === undefined ? '' : ` (HTTP ${status})`;
    super(`Schema registry rejected ${subject}${http}: ${detail}`, options);
    this.name = new.target.name;
  }
}

/** lookup() found no such schema under the subject: it was never registered there. */
export class SchemaNotRegisteredError extends Error {
  readonly retriable = false;

  constructor(readonly subject: string) {
    super(
      `the ${subject} schema of this build is not registered — run \`npm run schemas:register\``,
    );
    this.name = new.target.name;
  }
}

/** encode() for a role before register() or lookup() gave it a schema id: a wiring bug. */
export class RoleNotRegisteredError extends Error {
  readonly retriable = false;

  constructor(readonly role: string) {
    super(`no schema id for ${role}: call AvroCodec.register() or lookup() for its topic first`);
    this.name = new.target.name;
  }
}

/** " (why)", from an error and its cause, e.g. " (fetch failed: ECONNREFUSED)". */
function describe(cause: unknown): string {
  // Duck-typed: errors from fetch may come from another realm (e.g. under jest), failing instanceof.
  const message = (cause as { message?: unknown } | undefined)?.message;
  if (typeof message !== 'string') return '';
  const inner = (cause as { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail = inner?.code ?? inner?.message;
  return ` (${message}${detail === undefined ? '' : `: ${String(detail)}`})`;
}
