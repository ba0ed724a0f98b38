import type * as avro from 'avsc';

/** Subject compatibility levels of the Confluent API. ticks uses BACKWARD: new readers read old data. */
export type Compatibility =
  | 'NONE'
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE';

/**
 * What the codec needs from a schema registry. ConfluentRegistryClient talks to any registry with
 * the Confluent REST API (Confluent, Apicurio's ccompat, Redpanda, Karapace); tests or another
 * registry can provide their own.
 *
 * Failures: SchemaRegistryUnavailableError (retriable) when the registry gives no usable answer,
 * SchemaRejectedError when it refuses a schema. "Not found" is an answer, not a failure.
 */
export interface RegistryClient {
  /** Where the registry is, for messages. */
  readonly url: string;

  /**
   * Sets `subject`'s compatibility to `compatibility`, then registers `schema` under it and
   * returns its id. Registering a schema that is already there returns its existing id.
   */
  register(subject: string, schema: string, compatibility: Compatibility): Promise<number>;

  /** The id of `schema` under `subject`, or undefined when it is not registered there. */
  lookup(subject: string, schema: string): Promise<number | undefined>;

  /**
   * The writer type of schema `id`, parsed with avroTypeOptions(), or undefined when the registry
   * does not know the id.
   */
  writerType(id: number): Promise<avro.Type | undefined>;

  /** The compatibility set on `subject` itself, or undefined when it has none of its own. */
  compatibility(subject: string): Promise<Compatibility | undefined>;

  /** Deletes `subject` and all its versions, for good (no-op when absent). */
  deleteSubject(subject: string): Promise<void>;
}
