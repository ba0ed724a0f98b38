import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as avro from 'avsc';
import { canEncodeToZeroBytes } from './avro-blocks';
import { ENVELOPE_BY_ROLE, SchemaCatalog, TOPIC_ROLES, schemaCatalog } from './schema-catalog';

const SCHEMA_DIR = __dirname;
const avscFiles = readdirSync(SCHEMA_DIR).filter((file) => file.endsWith('.avsc'));
type Json = Record<string, unknown>;
const read = (file: string): Json =>
  JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as Json;

/** Every named definition (objects with a name and a named kind) in a schema, in document order. */
function definitions(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((branch) => definitions(branch, found));
  else if (typeof node === 'object' && node !== null) {
    const schema = node as Json;
    if (['record', 'enum', 'fixed'].includes(schema.type as string)) {
      found.push(`${schema.namespace as string}.${schema.name as string}`);
    }
    for (const field of (schema.fields as Json[] | undefined) ?? []) definitions(field.type, found);
    if (schema.type === 'array') definitions(schema.items, found);
    if (typeof schema.type === 'object') definitions(schema.type, found);
  }
  return found;
}

function arrays(type: avro.Type, seen = new Set<avro.Type>()): avro.types.ArrayType[] {
  if (seen.has(type)) return [];
  seen.add(type);
  if (type instanceof avro.types.ArrayType) return [type, ...arrays(type.itemsType, seen)];
  if (type instanceof avro.types.RecordType)
    return type.fields.flatMap((f) => arrays(f.type, seen));
  if (
    type instanceof avro.types.WrappedUnionType ||
    type instanceof avro.types.UnwrappedUnionType
  ) {
    return type.types.flatMap((branch) => arrays(branch, seen));
  }
  return [];
}

describe('the .avsc files', () => {
  it.each(avscFiles)('%s holds one documented dev.ticks record or enum', (file) => {
    const schema = read(file);
    expect(['record', 'enum']).toContain(schema.type);
    expect(schema.namespace).toBe('dev.ticks');
    expect(typeof schema.doc).toBe('string');
    // The file is named after its type: MessageSent → message-sent.avsc.
    const kebab = (schema.name as string).replace(/(?<!^)([A-Z])/g, '-$1').toLowerCase();
    expect(file).toBe(`${kebab}.avsc`);
    expect(definitions(schema)).toEqual([`dev.ticks.${schema.name as string}`]);
  });

  it.each(avscFiles)('%s has snake_case, documented fields', (file) => {
    for (const field of (read(file).fields as Json[] | undefined) ?? []) {
      expect(field.name).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
      expect(typeof field.doc).toBe('string');
    }
  });

  it('gives every timestamp the timestamp-millis logical type', () => {
    for (const file of avscFiles) {
      for (const field of (read(file).fields as Json[] | undefined) ?? []) {
        if (/_at$|^at$|^window_(start|end)$/.test(field.name as string)) {
          expect({ file, field: field.name, type: field.type }).toEqual({
            file,
            field: field.name,
            type: { type: 'long', logicalType: 'timestamp-millis' },
          });
        }
      }
    }
  });
});

describe('SchemaCatalog', () => {
  const catalog = schemaCatalog();

  it('loads every file', () => {
    expect(catalog.names()).toHaveLength(avscFiles.length);
  });

  it.each(TOPIC_ROLES)('composes the %s envelope into one self-contained schema', (role) => {
    const schema = catalog.schema(role);
    expect(`${schema.namespace as string}.${schema.name as string}`).toBe(ENVELOPE_BY_ROLE[role]);
    // Each named type is defined once, at its first mention; plain avsc (no options) parses it.
    const defined = definitions(schema);
    expect(new Set(defined).size).toBe(defined.length);
    expect(() => avro.Type.forSchema(schema as avro.Schema)).not.toThrow();
    expect(catalog.schemaText(role)).toBe(JSON.stringify(schema));
  });

  it('inlines shared named types once and refers to them by name afterwards', () => {
    const schema = catalog.schema('conversationEvents');
    expect(definitions(schema)).toEqual([
      'dev.ticks.ConversationEvent',
      'dev.ticks.MessageSent',
      'dev.ticks.ConversationKind',
      'dev.ticks.MemberAdded',
      'dev.ticks.MemberRemoved',
      'dev.ticks.MessageDeleted',
    ]);
    const payload = (schema.fields as Json[]).find((f) => f.name === 'payload')!.type as Json[];
    const memberAdded = payload[1] as Json;
    const kind = (memberAdded.fields as Json[]).find((f) => f.name === 'kind')!;
    expect(kind.type).toBe('dev.ticks.ConversationKind');
    expect(kind.doc).toBe('Kind of the conversation joined.');
  });

  it('keeps docs and defaults through composition', () => {
    const type = catalog.type('receiptEvents');
    const delivered = avro.Type.forSchema(catalog.compose('dev.ticks.Delivered') as avro.Schema);
    expect(delivered.fromBuffer(Buffer.from([0, 0]))).toEqual({
      message_ids: null,
      up_to_seq: null,
    });
    expect(type.doc).toMatch(/receipt_events/);
  });

  it('maps envelope names back to roles', () => {
    for (const role of TOPIC_ROLES) expect(catalog.roleOf(ENVELOPE_BY_ROLE[role])).toBe(role);
    expect(catalog.roleOf('dev.ticks.MessageSent')).toBeUndefined();
  });

  it('has no array whose items can encode to zero bytes (BoundedArrayType bounds them by bytes)', () => {
    const all = TOPIC_ROLES.flatMap((role) => arrays(catalog.type(role)));
    expect(all.length).toBeGreaterThan(0);
    for (const array of all) expect(canEncodeToZeroBytes(array.itemsType)).toBe(false);
  });

  describe('refuses', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'ticks-schemas-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const write = (file: string, schema: unknown) =>
      writeFileSync(join(dir, file), JSON.stringify(schema));
    const record = (name: string, fields: unknown[]) => ({
      type: 'record',
      name,
      namespace: 'dev.ticks',
      fields,
    });

    it('a record defined inside another', () => {
      write(
        'outer.avsc',
        record('Outer', [{ name: 'inner', type: record('Inner', [{ name: 'a', type: 'int' }]) }]),
      );
      expect(() => SchemaCatalog.load(dir)).toThrow(/defines Inner inside another type/);
    });

    it('a type defined in two files', () => {
      write('a.avsc', record('Same', []));
      write('b.avsc', record('Same', []));
      expect(() => SchemaCatalog.load(dir)).toThrow(/dev\.ticks\.Same is defined twice/);
    });

    it('a file that is not JSON', () => {
      writeFileSync(join(dir, 'broken.avsc'), '{ "type": ');
      expect(() => SchemaCatalog.load(dir)).toThrow(/broken\.avsc is not valid JSON/);
    });

    it('another namespace', () => {
      write('x.avsc', { ...record('X', []), namespace: 'com.example' });
      expect(() => SchemaCatalog.load(dir)).toThrow(/must be in namespace dev\.ticks/);
    });

    it('an envelope that refers to a type no file defines', () => {
      for (const envelope of Object.values(ENVELOPE_BY_ROLE)) {
        const name = envelope.slice('dev.ticks.'.length);
        write(`${name}.avsc`, record(name, [{ name: 'x', type: 'dev.ticks.Missing' }]));
      }
      expect(() => SchemaCatalog.load(dir)).toThrow(/no \.avsc file defines dev\.ticks\.Missing/);
    });
  });
});
