import * as avro from 'avsc';
import { avroTypeOptions } from '../../schemas/avro-type-options';
import type { Compatibility, RegistryClient } from '../../schemas/registry-client';

/**
 * A registry in memory for unit tests: ids per schema text (1, 2, … in the order added), counting
 * the calls the codec makes.
 */
export class MemoryRegistry implements RegistryClient {
  readonly url = 'memory://registry';
  readonly schemas = new Map<number, string>();
  readonly subjects = new Map<string, { compatibility?: Compatibility; ids: number[] }>();
  writerTypeCalls = 0;
  private nextId = 1;

  async register(subject: string, schema: string, compatibility: Compatibility): Promise<number> {
    const entry = this.subjects.get(subject) ?? { ids: [] };
    entry.compatibility = compatibility;
    this.subjects.set(subject, entry);
    const id = this.idOf(schema) ?? this.add(schema);
    if (!entry.ids.includes(id)) entry.ids.push(id);
    return id;
  }

  /** Puts a schema in the registry directly, as another producer would. */
  add(schema: string): number {
    const id = this.nextId++;
    this.schemas.set(id, schema);
    return id;
  }

  async lookup(subject: string, schema: string): Promise<number | undefined> {
    const id = this.idOf(schema);
    return id !== undefined && this.subjects.get(subject)?.ids.includes(id) ? id : undefined;
  }

  async writerType(id: number): Promise<avro.Type | undefined> {
    this.writerTypeCalls++;
    await new Promise((resolve) => setImmediate(resolve));
    const schema = this.schemas.get(id);
    return schema === undefined
      ? undefined
      : avro.Type.forSchema(JSON.parse(schema), avroTypeOptions());
  }

  async compatibility(subject: string): Promise<Compatibility | undefined> {
    return this.subjects.get(subject)?.compatibility;
  }

  async deleteSubject(subject: string): Promise<void> {
    this.subjects.delete(subject);
  }

  private idOf(schema: string): number | undefined {
    for (const [id, text] of this.schemas) if (text === schema) return id;
    return undefined;
  }
}
