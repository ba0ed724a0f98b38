import * as avro from 'avsc';
import { decodeEach, type DecodeOutcome } from '../tests/support/decoder-fuzz-worker';
import { avroTypeOptions } from './avro-type-options';
import { TOPIC_ROLES, type TopicRole, schemaCatalog } from './schema-catalog';
import { HEADER_SIZE, writeHeader } from './wire-format';

/**
 * Hostile bytes against the decoder: seeded random mutations and every truncation of valid
 * records of every envelope — as this build writes them, and as a newer writer with an extra
 * array and map field does (the codec then skips those fields, another code path) — decoded in a
 * worker with a time limit per record. Each record must decode or fail with a CodecError (a
 * dead-letter reason); none may hang the decoder or throw anything else.
 */

const SEED = 0x71c5;
const MUTANTS_PER_WRITER = 120;
const LIMIT_MS = 2_000;

/** mulberry32: small, seeded, good enough to pick mutations. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const catalog = schemaCatalog();
const rng = random(SEED);
const int = (below: number) => Math.floor(rng() * below);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

/** A random value of `type`, every branch of every union reachable. */
function valueOf(type: avro.Type): unknown {
  switch (type.typeName) {
    case 'null':
      return null;
    case 'boolean':
      return rng() < 0.5;
    case 'int':
      return int(2000) - 1000;
    case 'long':
    case 'logical:timestamp-millis':
      return int(2 ** 41);
    case 'float':
    case 'double':
      return rng();
    case 'string':
      return pick(['', 'a', 'ana', 'c-1', 'm-42', 'ü→✓✓', 'x'.repeat(int(40))]);
    case 'bytes':
      return Buffer.from(Array.from({ length: int(8) }, () => int(256)));
    case 'enum':
      return pick((type as avro.types.EnumType).symbols);
    case 'array':
      return Array.from({ length: int(4) }, () =>
        valueOf((type as avro.types.ArrayType).itemsType),
      );
    case 'map':
      return Object.fromEntries(
        Array.from({ length: int(3) }, (_, i) => [
          `k${i}`,
          valueOf((type as avro.types.MapType).valuesType as avro.Type),
        ]),
      );
    case 'record':
      return Object.fromEntries(
        (type as avro.types.RecordType).fields.map((f) => [f.name, valueOf(f.type)]),
      );
    case 'union:unwrapped':
      return valueOf(pick((type as avro.types.UnwrappedUnionType).types));
    case 'union:wrapped': {
      const branch = pick((type as avro.types.WrappedUnionType).types);
      return { [branch.branchName!]: valueOf(branch) };
    }
    default:
      throw new Error(`no generator for ${type.typeName}`);
  }
}

/** `role`'s envelope with fields that this build does not have, first, so they are skipped. */
function newerWriter(role: TopicRole, field: 'array' | 'map'): Record<string, unknown> {
  const schema = JSON.parse(catalog.schemaText(role)) as { fields: unknown[] };
  schema.fields.unshift(
    field === 'array'
      ? { name: 'fuzz_tags', type: { type: 'array', items: 'string' }, default: [] }
      : { name: 'fuzz_attrs', type: { type: 'map', values: 'long' }, default: {} },
  );
  return schema;
}

interface Writer {
  label: string;
  id: number;
  type: avro.Type;
}

const schemas: string[] = [];
const writers: Writer[] = [];
for (const role of TOPIC_ROLES) {
  const variants: Array<[string, Record<string, unknown>]> = [
    [role, JSON.parse(catalog.schemaText(role)) as Record<string, unknown>],
    [`${role}+array`, newerWriter(role, 'array')],
    [`${role}+map`, newerWriter(role, 'map')],
  ];
  for (const [label, schema] of variants) {
    schemas.push(JSON.stringify(schema));
    const type = avro.Type.forSchema(schema as avro.Schema, avroTypeOptions());
    writers.push({ label, id: schemas.length, type });
  }
}

function framed(writer: Writer, body: Buffer): Buffer {
  const bytes = Buffer.alloc(HEADER_SIZE + body.length);
  writeHeader(bytes, writer.id);
  body.copy(bytes, HEADER_SIZE);
  return bytes;
}

const validRecord = (writer: Writer) => framed(writer, writer.type.toBuffer(valueOf(writer.type)));

/** One to three edits: random or boundary bytes, insertions, deletions, varint runs, `01 03`. */
function mutate(record: Buffer): Buffer {
  let bytes = Buffer.from(record);
  for (let edits = 1 + int(3); edits > 0; edits--) {
    // Mostly the body; now and then the header.
    const at = rng() < 0.1 ? int(HEADER_SIZE) : HEADER_SIZE + int(bytes.length - HEADER_SIZE + 1);
    const bytesOf = (...b: number[]) => Buffer.from(b);
    const edit = int(6);
    if (edit === 0) bytes[Math.min(at, bytes.length - 1)] = int(256);
    else if (edit === 1)
      bytes[Math.min(at, bytes.length - 1)] = pick([0x00, 0x01, 0x02, 0x03, 0x7f, 0x80, 0xff]);
    else if (edit === 2) {
      const inserted = Buffer.from(Array.from({ length: 1 + int(3) }, () => int(256)));
      bytes = Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at)]);
    } else if (edit === 3)
      bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + int(3))]);
    else if (edit === 4)
      bytes = Buffer.concat([
        bytes.subarray(0, at),
        Buffer.alloc(5 + int(6), 0xff),
        bytes.subarray(at),
      ]);
    else bytes = Buffer.concat([bytes.subarray(0, at), bytesOf(0x01, 0x03), bytes.subarray(at)]);
  }
  return bytes;
}

interface Case {
  label: string;
  bytes: Buffer;
}

async function decodeAll(cases: Case[]): Promise<DecodeOutcome[]> {
  return decodeEach(
    { schemas, cases: cases.map((c) => c.bytes) },
    LIMIT_MS,
    (i) => cases[i]!.label,
  );
}

/** The cases whose outcome is not a decode or a typed rejection, for a readable failure. */
function untyped(cases: Case[], outcomes: DecodeOutcome[]): string[] {
  return outcomes.flatMap((o, i) =>
    o.outcome === 'untyped'
      ? [`${cases[i]!.label}: ${o.message} (${cases[i]!.bytes.toString('hex')})`]
      : [],
  );
}

describe('the decoder under hostile bytes', () => {
  it('a negative block size where a newer writer has an array or a map (`01 03`: count -1, size -2; `01 01`): UNDECODABLE, no hang', async () => {
    const cases = writers
      .filter((w) => w.label.includes('+'))
      .flatMap((w) => {
        const valid = writers.find((v) => v.label === w.label.split('+')[0])!;
        // The newer writer's extra field comes first: the header there, then a valid rest.
        const rest = valid.type.toBuffer(valueOf(valid.type));
        return [
          [1, 3],
          [1, 1],
        ].map((header) => ({
          label: `${w.label} ${Buffer.from(header).toString('hex')}`,
          bytes: framed(w, Buffer.concat([Buffer.from(header), rest])),
        }));
      });
    const outcomes = await decodeAll(cases);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ outcome: 'rejected', reason: 'UNDECODABLE' });
      expect(outcome.message).toMatch(/(array|map) block size -[12] is negative/);
    }
  });

  it('seeded mutations and every truncation of valid records of every envelope: decoded or a typed error, each within the time limit', async () => {
    const cases: Case[] = [];
    const truncations: Case[] = [];
    for (const writer of writers) {
      const record = validRecord(writer);
      for (let length = 0; length < record.length; length++)
        truncations.push({
          label: `${writer.label} cut to ${length} of ${record.length} bytes`,
          bytes: record.subarray(0, length),
        });
      for (let i = 0; i < MUTANTS_PER_WRITER; i++)
        cases.push({ label: `${writer.label} mutant ${i}`, bytes: mutate(validRecord(writer)) });
    }
    const all = [...truncations, ...cases];
    const outcomes = await decodeAll(all);

    expect(untyped(all, outcomes)).toEqual([]);
    // A truncated record never decodes: Avro knows where a value ends, and a shorter one is cut.
    const truncated = outcomes.slice(0, truncations.length);
    expect(truncated.filter((o) => o.outcome !== 'rejected')).toEqual([]);
    expect(new Set(truncated.map((o) => o.reason))).toEqual(new Set(['UNDECODABLE']));
    // The mutations reach the decoder's paths: some records still decode, some are refused.
    const mutated = outcomes.slice(truncations.length);
    expect(mutated.some((o) => o.outcome === 'decoded')).toBe(true);
    expect(mutated.some((o) => /block/.test(o.message ?? ''))).toBe(true);
    expect(mutated.some((o) => o.reason === 'UNKNOWN_SCHEMA')).toBe(true);
  });
});
