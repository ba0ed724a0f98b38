import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import * as avro from 'avsc';
import { avroTypeOptions } from './avro-type-options';
import {
  SchemaRegistryUnavailableError,
  SchemaRejectedError,
  UnknownSchemaError,
} from './codec-errors';
import type { Compatibility, RegistryClient } from './registry-client';

/** How to reach a registry with the Confluent REST API. */
export interface RegistryConnection {
  /** Base URL of the API, e.g. http://127.0.0.1:18081/apis/ccompat/v7 for Apicurio. */
  url: string;
  auth?: { username: string; password: string };
  /** Sent as the user agent's client id. Default 'ticks'. */
  clientId?: string;
  /**
   * How long one call may wait for the registry (a lookup, a registration, a schema by id, with
   * the library's retries), in ms: a registry that accepts connections and never answers is
   * then unavailable (retriable), not a hang. Default 10 000 (TICKS_REGISTRY_TIMEOUT_MS).
   */
  requestTimeoutMs?: number;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

type Middleware = NonNullable<
  ConstructorParameters<typeof SchemaRegistry>[0]['middlewares']
>[number];

/** Gives each of the library's requests a socket timeout, so a silent registry's sockets close. */
function requestTimeout(ms: number): Middleware {
  return () => ({
    async prepareRequest(next) {
      return (await next()).enhance({ timeout: ms });
    },
  });
}

/**
 * RegistryClient over @kafkajs/confluent-schema-registry, which registers, looks up and fetches
 * schemas (parsing them with avroTypeOptions() and caching them by id). The library has no call
 * to set a subject's compatibility or to delete a subject, so those two are plain HTTP requests.
 *
 * Apicurio's ccompat API differs from Confluent's in ways this class absorbs (see register()).
 */
export class ConfluentRegistryClient implements RegistryClient {
  readonly url: string;
  private readonly library: SchemaRegistry;
  private readonly headers: Record<string, string>;
  private readonly requestTimeoutMs: number;

  constructor(connection: RegistryConnection) {
    this.url = connection.url.replace(/\/+$/, '');
    this.requestTimeoutMs = connection.requestTimeoutMs ?? 10_000;
    this.headers = { Accept: CONTENT_TYPE, 'Content-Type': CONTENT_TYPE };
    if (connection.auth) {
      const { username, password } = connection.auth;
      this.headers.Authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    }
    // The library spreads these options into a new object per parse; leaving `registry` out lets
    // avsc give each parse its own named-type registry.
    const { registry: _shared, ...avroOptions } = avroTypeOptions();
    this.library = new SchemaRegistry(
      {
        host: this.url,
        auth: connection.auth,
        clientId: connection.clientId ?? 'ticks',
        middlewares: [requestTimeout(this.requestTimeoutMs)],
      },
      { [SchemaType.AVRO]: avroOptions },
    );
  }

  /**
   * A library call within requestTimeoutMs, retries included: the library has no deadline of its
   * own. Past it, SchemaRegistryUnavailableError naming what did not answer.
   */
  private async bounded<T>(what: string, call: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new SchemaRegistryUnavailableError(this.url, {
              cause: new Error(`${what}: no answer within ${this.requestTimeoutMs} ms`),
            }),
          ),
        this.requestTimeoutMs,
      );
    });
    try {
      return await Promise.race([call(), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Compatibility first, so that this very registration is checked under it. The library then
   * re-reads the subject's compatibility and refuses to register if it differs from the one asked
   * for; when a registry only accepts settings on existing subjects (404), the library registers
   * and then sets it itself, and we make sure it took.
   */
  async register(subject: string, schema: string, compatibility: Compatibility): Promise<number> {
    const configuredFirst = await this.putCompatibility(subject, compatibility);
    let id: number;
    try {
      ({ id } = await this.bounded(`registering ${subject}`, () =>
        this.library.register(
          { type: SchemaType.AVRO, schema },
          { subject, compatibility: COMPATIBILITY[compatibility] },
        ),
      ));
    } catch (error) {
      throw this.failure(error, subject);
    }
    if (!configuredFirst && !(await this.putCompatibility(subject, compatibility))) {
      throw new SchemaRejectedError(subject, 404, `cannot set compatibility ${compatibility}`);
    }
    return id;
  }

  async lookup(subject: string, schema: string): Promise<number | undefined> {
    try {
      return await this.bounded(`looking up ${subject}`, () =>
        this.library.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema }),
      );
    } catch (error) {
      // The library turns the registry's 404 into this error, without the status.
      if ((error as Error).name === 'ConfluentSchemaRegistryError') return undefined;
      throw this.failure(error, subject);
    }
  }

  async writerType(id: number): Promise<avro.Type | undefined> {
    let schema: unknown;
    try {
      schema = await this.bounded(`fetching schema id ${id}`, () => this.library.getSchema(id));
    } catch (error) {
      if (error instanceof SchemaRegistryUnavailableError) throw error;
      const status = httpStatus(error);
      if (status === 404) return undefined;
      if (status !== undefined) throw this.failure(error);
      // No status: the registry answered, but with a schema avsc cannot parse. Asking again
      // would give the same answer.
      throw new UnknownSchemaError(
        `schema id ${id} cannot be parsed: ${(error as Error).message}`,
        id,
        {
          cause: error,
        },
      );
    }
    if (!avro.Type.isType(schema)) {
      throw new UnknownSchemaError(`schema id ${id} is not an Avro schema`, id);
    }
    return schema as avro.Type;
  }

  async compatibility(subject: string): Promise<Compatibility | undefined> {
    const { status, body } = await this.request('GET', `/config/${encodeURIComponent(subject)}`);
    if (status === 404) return undefined;
    if (status !== 200) throw new SchemaRejectedError(subject, status, registryMessage(body));
    // Confluent answers compatibilityLevel; some registries answer compatibility.
    const level =
      (body as { compatibilityLevel?: string; compatibility?: string } | undefined) ?? {};
    return (level.compatibilityLevel ?? level.compatibility) as Compatibility | undefined;
  }

  async deleteSubject(subject: string): Promise<void> {
    const path = `/subjects/${encodeURIComponent(subject)}`;
    // Confluent only deletes for good what was soft-deleted first.
    for (const query of ['', '?permanent=true']) {
      const { status, body } = await this.request('DELETE', `${path}${query}`);
      if (status !== 200 && status !== 404) {
        throw new SchemaRejectedError(subject, status, `cannot delete: ${registryMessage(body)}`);
      }
    }
  }

  /** True when set; false when the registry wants the subject to exist first (404). */
  private async putCompatibility(subject: string, compatibility: Compatibility): Promise<boolean> {
    const { status, body } = await this.request('PUT', `/config/${encodeURIComponent(subject)}`, {
      compatibility,
    });
    if (status === 200) return true;
    if (status === 404) return false;
    throw new SchemaRejectedError(
      subject,
      status,
      `cannot set compatibility ${compatibility}: ${registryMessage(body)}`,
    );
  }

  private async request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers: this.headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (error) {
      throw new SchemaRegistryUnavailableError(this.url, { cause: error });
    }
    const text = await response.text();
    if (response.status >= 500) {
      throw new SchemaRegistryUnavailableError(this.url, {
        cause: new Error(`${method} ${path}: HTTP ${response.status} ${text}`),
      });
    }
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON: keep the text for the message.
    }
    return { status: response.status, body: parsed };
  }

  /** A library failure as one of ours: the registry's refusal, or no usable answer. */
  private failure(error: unknown, subject = ''): Error {
    if (error instanceof SchemaRegistryUnavailableError) return error;
    const status = httpStatus(error);
    if (status === 409 || status === 422) {
      return new SchemaRejectedError(subject, status, (error as Error).message, { cause: error });
    }
    if ((error as Error).name === 'ConfluentSchemaRegistryCompatibilityError') {
      return new SchemaRejectedError(subject, undefined, (error as Error).message, {
        cause: error,
      });
    }
    return new SchemaRegistryUnavailableError(this.url, { cause: error });
  }
}

/**
 * The HTTP status of a library error. The library reports a network failure as status 400 with
 * the socket error as its message; a real 400 from a registry carries a JSON message instead.
 */
function httpStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | undefined)?.status;
  if (typeof status !== 'number') return undefined;
  if (status === 400 && /Error, status 400: /.test((error as Error).message)) return 0;
  return status;
}

function registryMessage(body: unknown): string {
  if (typeof body === 'object' && body !== null && 'message' in body) {
    return String((body as { message: unknown }).message);
  }
  return typeof body === 'string' ? body : JSON.stringify(body);
}
