import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as avro from 'avsc';
import { avroTypeOptions } from './avro-type-options';
import type { TopicRole } from './topic-role';
import {
  ConversationEvent,
  DeadLetter,
  Presence,
  ReceiptEvent,
  ReceiptUpdate,
  StateChangeBatch,
  TypeName,
  UserSettings,
} from './types';

export type { TopicRole };

/** The record each topic's values are written with. */
export const ENVELOPE_BY_ROLE = {
  conversationEvents: TypeName.ConversationEvent,
  receiptEvents: TypeName.ReceiptEvent,
  userSettings: TypeName.UserSettings,
  presence: TypeName.Presence,
  receiptUpdates: TypeName.ReceiptUpdate,
  deadLetters: TypeName.DeadLetter,
  stateChanges: TypeName.StateChangeBatch,
} as const satisfies Record<TopicRole, TypeName>;

/** Every topic role, in the order of ENVELOPE_BY_ROLE (which TypeScript checks is complete). */
export const TOPIC_ROLES = Object.keys(ENVELOPE_BY_ROLE) as TopicRole[];

/** The decoded value of each topic. */
export interface RoleValue {
  conversationEvents: ConversationEvent;
  receiptEvents: ReceiptEvent;
  userSettings: UserSettings;
  presence: Presence;
  receiptUpdates: ReceiptUpdate;
  deadLetters: DeadLetter;
  stateChanges: StateChangeBatch;
}

const PRIMITIVES = new Set([
  'null',
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'bytes',
  'string',
]);
const NAMED_KINDS = new Set(['record', 'error', 'enum', 'fixed']);

/**
 * The dev.ticks schemas: one named type per .avsc file, and each topic's envelope composed from
 * them. A registry needs one self-contained schema per subject, so composition inlines every
 * referenced named type at its first mention (Avro's definition-before-use order) and leaves later
 * mentions as names — the repository keeps each record exactly once.
 */
export class SchemaCatalog {
  private readonly named: ReadonlyMap<string, { file: string; schema: Record<string, unknown> }>;
  private readonly composed = new Map<string, Record<string, unknown>>();
  private readonly types = new Map<TopicRole, avro.Type>();
  private readonly roleByName: ReadonlyMap<string, TopicRole>;

  private constructor(named: Map<string, { file: string; schema: Record<string, unknown> }>) {
    this.named = named;
    this.roleByName = new Map(TOPIC_ROLES.map((role) => [ENVELOPE_BY_ROLE[role], role]));
    for (const role of TOPIC_ROLES) this.type(role); // Fail at load, not on the first record.
  }

  /** Reads every .avsc file of `dir` (this folder by default). Throws on the first bad file. */
  static load(dir: string = __dirname): SchemaCatalog {
    const named = new Map<string, { file: string; schema: Record<string, unknown> }>();
    const files = readdirSync(dir)
      .filter((file) => file.endsWith('.avsc'))
      .sort();
    for (const file of files) {
      const path = join(dir, file);
      let schema: unknown;
      try {
        schema = JSON.parse(readFileSync(path, 'utf8'));
      } catch (error) {
        throw new Error(`${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
      }
      const name = rootName(schema, path);
      const previous = named.get(name);
      if (previous) throw new Error(`${name} is defined twice: in ${previous.file} and in ${path}`);
      named.set(name, { file: path, schema: schema as Record<string, unknown> });
    }
    return new SchemaCatalog(named);
  }

  /** Full names of every named type, in file order. */
  names(): string[] {
    return [...this.named.keys()];
  }

  /** The schema of `role`'s envelope, self-contained, as registered. */
  schema(role: TopicRole): Record<string, unknown> {
    return this.compose(ENVELOPE_BY_ROLE[role]);
  }

  /** The text registered for `role` (stable: the same catalog always gives the same string). */
  schemaText(role: TopicRole): string {
    return JSON.stringify(this.schema(role));
  }

  /** The reader type of `role`'s envelope. */
  type(role: TopicRole): avro.Type {
    let type = this.types.get(role);
    if (!type) {
      type = avro.Type.forSchema(this.schema(role) as avro.Schema, avroTypeOptions());
      this.types.set(role, type);
    }
    return type;
  }

  /** The role whose envelope has this full name, if any. */
  roleOf(fullName: string): TopicRole | undefined {
    return this.roleByName.get(fullName);
  }

  /** Any named type with everything it references inlined. */
  compose(fullName: string): Record<string, unknown> {
    let schema = this.composed.get(fullName);
    if (!schema) {
      schema = this.inline(fullName, 'dev.ticks', new Set()) as Record<string, unknown>;
      this.composed.set(fullName, schema);
    }
    return schema;
  }

  private inline(node: unknown, namespace: string, defined: Set<string>): unknown {
    if (typeof node === 'string') {
      if (PRIMITIVES.has(node)) return node;
      const fullName = qualify(node, namespace);
      if (defined.has(fullName)) return fullName;
      const entry = this.named.get(fullName);
      if (!entry)
        throw new Error(
          `unknown Avro type ${JSON.stringify(node)} (no .avsc file defines ${fullName})`,
        );
      return this.inline(entry.schema, namespace, defined);
    }
    if (Array.isArray(node)) return node.map((branch) => this.inline(branch, namespace, defined));
    if (typeof node !== 'object' || node === null) {
      throw new Error(`not an Avro schema: ${JSON.stringify(node)}`);
    }
    const schema = node as Record<string, unknown>;
    const out: Record<string, unknown> = { ...schema };
    let inner = namespace;
    if (NAMED_KINDS.has(schema.type as string)) {
      const fullName = qualify(
        schema.name as string,
        (schema.namespace as string | undefined) ?? namespace,
      );
      defined.add(fullName);
      inner = fullName.slice(0, fullName.lastIndexOf('.'));
    }
    if (Array.isArray(schema.fields)) {
      out.fields = (schema.fields as Record<string, unknown>[]).map((field) => ({
        ...field,
        type: this.inline(field.type, inner, defined),
      }));
    }
    if (schema.type === 'array') out.items = this.inline(schema.items, inner, defined);
    if (schema.type === 'map') out.values = this.inline(schema.values, inner, defined);
    if (typeof schema.type === 'object' && schema.type !== null) {
      out.type = this.inline(schema.type, inner, defined);
    }
    return out;
  }
}

let defaultCatalog: SchemaCatalog | undefined;

/** The catalog of this folder's .avsc files, loaded once per process. */
export function schemaCatalog(): SchemaCatalog {
  defaultCatalog ??= SchemaCatalog.load();
  return defaultCatalog;
}

function qualify(name: string, namespace: string): string {
  return name.includes('.') ? name : `${namespace}.${name}`;
}

/** The full name a file defines; rejects files that define more or less than one named type. */
function rootName(schema: unknown, path: string): string {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new Error(
      `${path} must hold one named type (record or enum), not ${JSON.stringify(schema)}`,
    );
  }
  const root = schema as Record<string, unknown>;
  if (!NAMED_KINDS.has(root.type as string) || typeof root.name !== 'string') {
    throw new Error(`${path} must hold one named type (record or enum) with a name`);
  }
  if (root.namespace !== 'dev.ticks') {
    throw new Error(
      `${path}: ${root.name} must be in namespace dev.ticks, not ${String(root.namespace)}`,
    );
  }
  assertNoNestedDefinition(root, path, true);
  return qualify(root.name, root.namespace);
}

function assertNoNestedDefinition(node: unknown, path: string, isRoot: boolean): void {
  if (Array.isArray(node)) {
    for (const branch of node) assertNoNestedDefinition(branch, path, false);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const schema = node as Record<string, unknown>;
  if (!isRoot && NAMED_KINDS.has(schema.type as string)) {
    throw new Error(
      `${path} defines ${String(schema.name)} inside another type: give it its own file and refer to it by name`,
    );
  }
  if (Array.isArray(schema.fields)) {
    for (const field of schema.fields as Record<string, unknown>[])
      assertNoNestedDefinition(field.type, path, false);
  }
  if (schema.type === 'array') assertNoNestedDefinition(schema.items, path, false);
  if (schema.type === 'map') assertNoNestedDefinition(schema.values, path, false);
  if (typeof schema.type === 'object') assertNoNestedDefinition(schema.type, path, false);
}
