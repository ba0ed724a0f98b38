import type * as avro from 'avsc';
import {
  CodecError,
  InvalidFieldsError,
  RoleNotRegisteredError,
  SchemaNotRegisteredError,
  UndecodableBodyError,
  UnknownSchemaError,
} from './codec-errors';
import { ConfluentRegistryClient, type RegistryConnection } from './confluent-registry-client';
import type { RegistryClient } from './registry-client';
import {
  type RoleValue,
  type SchemaCatalog,
  TOPIC_ROLES,
  type TopicRole,
  schemaCatalog,
} from './schema-catalog';
import { HEADER_SIZE, readSchemaId, writeHeader } from './wire-format';

export interface AvroCodecOptions {
  registry: RegistryClient;
  /** The schemas; the .avsc files of this folder by default. */
  catalog?: SchemaCatalog;
  /**
   * How long a schema id the registry did not know is answered from memory as UNKNOWN_SCHEMA
   * before the registry is asked again, so that a burst of garbage cannot flood the registry.
   * Default 60 000 ms.
   */
  unknownSchemaRetryMs?: number;
}

/** What a value's subject got: Confluent's TopicNameStrategy, `<topic>-value`. */
export interface RegisteredSchema {
  role: TopicRole;
  topic: string;
  subject: string;
  id: number;
}

/** A decoded record: `role` tells which envelope `value` is (and narrows its type). */
export type Decoded<R extends TopicRole = TopicRole> = {
  [K in R]: { role: K; schemaId: number; value: RoleValue[K] };
}[R];

/** How to read one schema id: our reader type, and a resolver when the writer's schema differs. */
interface Reader {
  role: TopicRole;
  schemaId: number;
  type: avro.Type;
  resolver: avro.Resolver | undefined;
}

/** Encoding happens in this buffer, then one exact-size copy leaves it; larger values get their own. */
const SCRATCH_BYTES = 64 * 1024;
const MAX_RETAINED_SCRATCH_BYTES = 1024 * 1024;
const MAX_REMEMBERED_UNKNOWN_IDS = 10_000;

/**
 * Avro values of the ticks topics ⇄ Confluent wire-format bytes.
 *
 * Hot path: encode uses the schema id cached by register() or lookup(); decode reads the id from
 * the header and uses a reader cached for that id. Only the first record of an id the codec has
 * not seen goes to the registry (once, however many records wait for it); after that, neither
 * direction makes a registry call or parses a schema.
 *
 * Records written with an older (or newer) version of an envelope decode into the shape of this
 * build's version through an avsc resolver, which is what BACKWARD compatibility guarantees.
 *
 * Errors of a record carry a DeadLetterReason (CodecError): UNDECODABLE for bytes that are not
 * the wire format or whose body does not decode, UNKNOWN_SCHEMA for an id the registry does not
 * know or that is not a ticks envelope. A registry that cannot be reached is not the record's
 * fault: SchemaRegistryUnavailableError, retriable.
 */
export class AvroCodec {
  readonly catalog: SchemaCatalog;
  private readonly registry: RegistryClient;
  private readonly unknownSchemaRetryMs: number;
  private readonly ids = new Map<TopicRole, number>();
  private readonly readers = new Map<number, Reader>();
  private readonly pendingReaders = new Map<number, Promise<Reader>>();
  private readonly unknownUntil = new Map<number, { until: number; error: UnknownSchemaError }>();
  private scratch = Buffer.allocUnsafe(SCRATCH_BYTES);

  constructor(options: AvroCodecOptions) {
    this.registry = options.registry;
    this.catalog = options.catalog ?? schemaCatalog();
    this.unknownSchemaRetryMs = options.unknownSchemaRetryMs ?? 60_000;
  }

  /** A codec for a registry with the Confluent REST API at `connection.url`. */
  static connect(
    connection: RegistryConnection,
    options: Omit<AvroCodecOptions, 'registry'> = {},
  ): AvroCodec {
    return new AvroCodec({ ...options, registry: new ConfluentRegistryClient(connection) });
  }

  /** Where the registry is. */
  get registryUrl(): string {
    return this.registry.url;
  }

  /**
   * Registers `role`'s envelope under `<topic>-value` with BACKWARD compatibility, and keeps its
   * id for encode(). Idempotent: the same schema gets the same id.
   */
  async register(topic: string, role: TopicRole): Promise<RegisteredSchema> {
    const subject = `${topic}-value`;
    const id = await this.registry.register(subject, this.catalog.schemaText(role), 'BACKWARD');
    this.useId(role, id);
    return { role, topic, subject, id };
  }

  /**
   * Finds the id of `role`'s envelope under `<topic>-value` without writing to the registry — for
   * processes that may only read it. Throws SchemaNotRegisteredError when it is not there.
   */
  async lookup(topic: string, role: TopicRole): Promise<RegisteredSchema> {
    const subject = `${topic}-value`;
    const id = await this.registry.lookup(subject, this.catalog.schemaText(role));
    if (id === undefined) throw new SchemaNotRegisteredError(subject);
    this.useId(role, id);
    return { role, topic, subject, id };
  }

  /** register() for every topic, in role order. */
  async registerAll(topics: Record<TopicRole, string>): Promise<RegisteredSchema[]> {
    const registered: RegisteredSchema[] = [];
    for (const role of TOPIC_ROLES) registered.push(await this.register(topics[role], role));
    return registered;
  }

  /** lookup() for every topic, in role order. */
  async lookupAll(topics: Record<TopicRole, string>): Promise<RegisteredSchema[]> {
    const found: RegisteredSchema[] = [];
    for (const role of TOPIC_ROLES) found.push(await this.lookup(topics[role], role));
    return found;
  }

  /** The id encode() writes for `role`, once registered or looked up. */
  schemaId(role: TopicRole): number | undefined {
    return this.ids.get(role);
  }

  /**
   * Frames `value` as `role`'s envelope. Throws InvalidFieldsError (listing the bad fields) when
   * the value does not match the schema, RoleNotRegisteredError before register()/lookup().
   * Synchronous work; the promise is for callers that treat serializers as async.
   */
  async encode<R extends TopicRole>(role: R, value: RoleValue[R]): Promise<Buffer> {
    return this.encodeNow(role, value);
  }

  /** encode() without the promise, for loops that produce many records at once. */
  encodeNow<R extends TopicRole>(role: R, value: RoleValue[R]): Buffer {
    const id = this.ids.get(role);
    if (id === undefined) throw new RoleNotRegisteredError(role);
    const type = this.catalog.type(role);
    let scratch = this.scratch;
    let end: number;
    try {
      end = type.encode(value, scratch, HEADER_SIZE);
      if (end < 0) {
        // avsc answers the number of missing bytes, negated.
        scratch = Buffer.allocUnsafe(scratch.length - end);
        end = type.encode(value, scratch, HEADER_SIZE);
        if (scratch.length <= MAX_RETAINED_SCRATCH_BYTES) this.scratch = scratch;
      }
    } catch (error) {
      throw invalidFields(role, type, value, error);
    }
    const framed = Buffer.allocUnsafe(end);
    writeHeader(framed, id);
    scratch.copy(framed, HEADER_SIZE, HEADER_SIZE, end);
    return framed;
  }

  /** The envelope in `bytes`, whichever ticks topic it belongs to. */
  async decode(bytes: Buffer): Promise<Decoded> {
    const schemaId = readSchemaId(bytes);
    const reader = this.readers.get(schemaId) ?? (await this.loadReader(schemaId));
    return read(reader, bytes) as Decoded;
  }

  /** decode() without the promise when the schema id is known already; undefined when not. */
  decodeCached(bytes: Buffer): Decoded | undefined {
    const reader = this.readers.get(readSchemaId(bytes));
    return reader ? read(reader, bytes) : undefined;
  }

  /**
   * decode() for a topic that must hold `role`'s envelope: a record written with another
   * envelope's schema is UNKNOWN_SCHEMA here.
   */
  async decodeAs<R extends TopicRole>(role: R, bytes: Buffer): Promise<Decoded<R>> {
    const schemaId = readSchemaId(bytes);
    const reader = this.readers.get(schemaId) ?? (await this.loadReader(schemaId));
    return readAs(role, reader, bytes);
  }

  /** decodeAs() without the promise when the schema id is known already; undefined when not. */
  decodeCachedAs<R extends TopicRole>(role: R, bytes: Buffer): Decoded<R> | undefined {
    const reader = this.readers.get(readSchemaId(bytes));
    return reader ? readAs(role, reader, bytes) : undefined;
  }

  private useId(role: TopicRole, id: number): void {
    this.ids.set(role, id);
    // Our own records then decode without asking the registry for what we already have.
    this.readers.set(id, {
      role,
      schemaId: id,
      type: this.catalog.type(role),
      resolver: undefined,
    });
    this.unknownUntil.delete(id);
  }

  private loadReader(schemaId: number): Promise<Reader> {
    const known = this.unknownUntil.get(schemaId);
    if (known && known.until > Date.now()) return Promise.reject(known.error);
    let pending = this.pendingReaders.get(schemaId);
    if (!pending) {
      pending = this.fetchReader(schemaId).finally(() => this.pendingReaders.delete(schemaId));
      this.pendingReaders.set(schemaId, pending);
    }
    return pending;
  }

  private async fetchReader(schemaId: number): Promise<Reader> {
    let writer: avro.Type | undefined;
    try {
      // Registries hand out positive ids; anything else is not worth a request.
      writer = schemaId > 0 ? await this.registry.writerType(schemaId) : undefined;
      if (!writer) {
        throw new UnknownSchemaError(
          `schema id ${schemaId} is not in the registry at ${this.registry.url}`,
          schemaId,
        );
      }
      const reader = this.readerFor(schemaId, writer);
      this.readers.set(schemaId, reader);
      return reader;
    } catch (error) {
      if (error instanceof UnknownSchemaError) {
        // Garbage carries random ids: forget them all rather than grow without bound.
        if (this.unknownUntil.size >= MAX_REMEMBERED_UNKNOWN_IDS) this.unknownUntil.clear();
        this.unknownUntil.set(schemaId, { until: Date.now() + this.unknownSchemaRetryMs, error });
      }
      throw error;
    }
  }

  private readerFor(schemaId: number, writer: avro.Type): Reader {
    const role = writer.name === undefined ? undefined : this.catalog.roleOf(writer.name);
    if (!role) {
      throw new UnknownSchemaError(
        `schema id ${schemaId} is ${writer.name ?? `a ${writer.typeName}`}, not the envelope of a ticks topic`,
        schemaId,
      );
    }
    const type = this.catalog.type(role);
    if (type.equals(writer)) return { role, schemaId, type, resolver: undefined };
    try {
      return { role, schemaId, type, resolver: type.createResolver(writer) };
    } catch (error) {
      throw new UnknownSchemaError(
        `schema id ${schemaId} (${writer.name}) cannot be read as this build's version: ${(error as Error).message}`,
        schemaId,
        { cause: error },
      );
    }
  }
}

/** read() for a topic that must hold `role`'s envelope (UNKNOWN_SCHEMA for another one). */
function readAs<R extends TopicRole>(role: R, reader: Reader, bytes: Buffer): Decoded<R> {
  if (reader.role !== role) {
    throw new UnknownSchemaError(
      `schema id ${reader.schemaId} is the ${reader.role} envelope, not the ${role} one`,
      reader.schemaId,
    );
  }
  return read(reader, bytes) as Decoded<R>;
}

function read(reader: Reader, bytes: Buffer): Decoded {
  let decoded: { value: unknown; offset: number };
  try {
    decoded = reader.type.decode(bytes, HEADER_SIZE, reader.resolver);
  } catch (error) {
    throw new UndecodableBodyError(
      `body does not decode as schema id ${reader.schemaId} (${reader.type.name}): ${(error as Error).message}`,
      reader.schemaId,
      { cause: error },
    );
  }
  if (decoded.offset !== bytes.length) {
    throw new UndecodableBodyError(
      decoded.offset < 0
        ? `body is truncated or corrupt for schema id ${reader.schemaId} (${reader.type.name})`
        : `${bytes.length - decoded.offset} bytes of trailing data after a ${reader.type.name}`,
      reader.schemaId,
    );
  }
  return { role: reader.role, schemaId: reader.schemaId, value: decoded.value } as Decoded;
}

function invalidFields(
  role: TopicRole,
  type: avro.Type,
  value: unknown,
  cause: unknown,
): CodecError {
  const paths: string[] = [];
  type.isValid(value, { errorHook: (path) => paths.push(path.join('.') || '(root)') });
  const where = paths.length > 0 ? paths.join(', ') : (cause as Error).message;
  return new InvalidFieldsError(`invalid ${type.name} for ${role}: ${where}`, paths, { cause });
}
