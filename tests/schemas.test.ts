/**
 * The codec against the real schema registry and Kafka of the local stack (or whatever the
 * TICKS_* variables point at). Every subject and topic is unique to the run and deleted after.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as avro from 'avsc';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../config/config';
import { AvroCodec } from '../schemas/avro-codec';
import { avroTypeOptions } from '../schemas/avro-type-options';
import {
  NotWireFormatError,
  SchemaRegistryUnavailableError,
  SchemaRejectedError,
  UndecodableBodyError,
  UnknownSchemaError,
} from '../schemas/codec-errors';
import { ConfluentRegistryClient } from '../schemas/confluent-registry-client';
import { schemaCatalog } from '../schemas/schema-catalog';
import {
  type ReceiptEvent,
  type ReceiptUpdate,
  TypeName,
  type UserSettings,
} from '../schemas/types';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const registry = new ConfluentRegistryClient({ url: config.registryUrl, clientId: 'ticks-tests' });
const subjects: string[] = [];

afterAll(async () => {
  for (const subject of subjects) await registry.deleteSubject(subject);
});

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('Avro through Kafka', () => {
  const kafka = new Kafka({
    clientId: 'ticks-tests',
    brokers: config.kafka.brokers,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  const topic = `ticks-test-schemas-${run}`;

  beforeAll(async () => {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  });

  it('a value encoded with the registry comes back equal from a consumer', async () => {
    const producerCodec = new AvroCodec({ registry });
    const { subject, id } = await producerCodec.register(topic, 'receiptEvents');
    subjects.push(subject);
    expect(subject).toBe(`${topic}-value`);
    expect(await registry.compatibility(subject)).toBe('BACKWARD');

    const events: ReceiptEvent[] = [
      {
        event_id: randomUUID(),
        conversation_id: 'c-1',
        user_id: 'bo',
        device_id: 'phone',
        occurred_at: Date.now(),
        payload: { [TypeName.Delivered]: { message_ids: ['m-1', 'm-2'], up_to_seq: null } },
      },
      {
        event_id: randomUUID(),
        conversation_id: 'c-1',
        user_id: 'bo',
        device_id: 'laptop',
        occurred_at: Date.now(),
        payload: { [TypeName.ReadUpTo]: { seq: 2 ** 40, message_id: null } },
      },
    ];
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: await Promise.all(
        events.map(async (event) => ({
          key: event.conversation_id,
          value: await producerCodec.encode('receiptEvents', event),
        })),
      ),
    });
    await producer.disconnect();

    // A separate codec, as in another process: it learns the schema from the registry.
    const consumerCodec = new AvroCodec({
      registry: new ConfluentRegistryClient({ url: config.registryUrl }),
    });
    const consumer = kafka.consumer({ groupId: `ticks-test-schemas-${run}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: unknown[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no records within 30 s')), 30_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            try {
              const decoded = await consumerCodec.decodeAs('receiptEvents', message.value!);
              expect(decoded.schemaId).toBe(id);
              received.push(decoded.value);
              if (received.length === events.length) {
                clearTimeout(timer);
                resolve();
              }
            } catch (error) {
              clearTimeout(timer);
              reject(error);
            }
          },
        });
      });
    } finally {
      await consumer.disconnect();
    }
    expect(received).toEqual(events);
  });
});

describe('the registry enforces BACKWARD compatibility', () => {
  const subject = `ticks-test-compat-${run}-value`;
  const envelope = JSON.parse(schemaCatalog().schemaText('userSettings')) as {
    fields: Record<string, unknown>[];
  };
  const withField = (field: Record<string, unknown>) =>
    JSON.stringify({ ...envelope, fields: [...envelope.fields, field] });

  it('rejects a required field without default, accepts one with a default', async () => {
    subjects.push(subject);
    const v1 = await registry.register(
      subject,
      schemaCatalog().schemaText('userSettings'),
      'BACKWARD',
    );
    expect(await registry.compatibility(subject)).toBe('BACKWARD');

    const incompatible = withField({ name: 'locale', type: 'string', doc: 'UI language.' });
    const rejection = await failure(registry.register(subject, incompatible, 'BACKWARD'));
    expect(rejection).toBeInstanceOf(SchemaRejectedError);
    expect((rejection as SchemaRejectedError).status).toBe(409);
    expect(await registry.lookup(subject, incompatible)).toBeUndefined();

    const compatible = withField({
      name: 'locale',
      type: 'string',
      default: 'en',
      doc: 'UI language.',
    });
    const v2 = await registry.register(subject, compatible, 'BACKWARD');
    expect(v2).not.toBe(v1);
    expect(await registry.lookup(subject, compatible)).toBe(v2);

    // A record of the newer version decodes into this build's shape, the new field skipped.
    const settings: UserSettings = {
      user_id: 'bo',
      read_receipts_enabled: true,
      updated_at: Date.now(),
      version: 1,
      muted_conversations: [],
    };
    const body = avro.Type.forSchema(JSON.parse(compatible), avroTypeOptions()).toBuffer({
      ...settings,
      locale: 'pt',
    });
    const header = Buffer.alloc(5);
    header.writeInt32BE(v2, 1);
    const decoded = await new AvroCodec({ registry }).decode(Buffer.concat([header, body]));
    expect(decoded).toEqual({ role: 'userSettings', schemaId: v2, value: settings });
  });
});

describe('receipt_updates: one group summary per sender (GroupSenderSummary), BACKWARD', () => {
  const subject = `ticks-test-updates-${run}-value`;
  /** The subject's schema as registered by the build before GroupSenderSummary (c6ff4a3). */
  const before = readFileSync(
    path.join(__dirname, 'fixtures', 'receipt-updates-value-c6ff4a3.json'),
    'utf8',
  );
  const now = schemaCatalog().schemaText('receiptUpdates');
  const header = (id: number) => {
    const h = Buffer.alloc(5);
    h.writeInt32BE(id, 1);
    return h;
  };

  it('registers over the previous schema, and a single-message summary written before still decodes', async () => {
    subjects.push(subject);
    const v1 = await registry.register(subject, JSON.stringify(JSON.parse(before)), 'BACKWARD');
    const v2 = await registry.register(subject, now, 'BACKWARD');
    expect(v2).not.toBe(v1);

    // A record the previous build wrote, read by this one (resolved against its schema).
    const legacy: ReceiptUpdate = {
      update_id: 'g:g1:m7:42',
      user_id: 'ana',
      version: 42,
      source_event_at: 1000,
      emitted_at: 2000,
      payload: {
        [TypeName.GroupSummary]: {
          conversation_id: 'g1',
          message_id: 'm7',
          seq: 7,
          status: 'READ',
          read_count: 3,
          delivered_count: 5,
          total: 19,
          window_start: 0,
          window_end: 2000,
        },
      },
    };
    const body = avro.Type.forSchema(JSON.parse(before), avroTypeOptions()).toBuffer(legacy);
    const decoded = await new AvroCodec({ registry }).decode(Buffer.concat([header(v1), body]));
    expect(decoded).toEqual({ role: 'receiptUpdates', schemaId: v1, value: legacy });
  });

  it('refuses a schema without the old summary: the registry keeps it readable', async () => {
    const schema = JSON.parse(now) as {
      fields: Array<{ name: string; type: unknown }>;
    };
    // Out of the payload union and out of OfflineBatch's items, which name it.
    const payload = schema.fields.find((f) => f.name === 'payload')!;
    const branches = (payload.type as Array<{ name?: string; fields?: unknown }>).filter(
      (branch) => branch.name !== 'GroupSummary',
    );
    const batch = branches.find((b) => b.name === 'OfflineBatch')!.fields as Array<{
      type: { items: unknown[] };
    }>;
    batch[0]!.type.items = batch[0]!.type.items.filter((b) => b !== 'dev.ticks.GroupSummary');
    payload.type = branches;
    expect(() => avro.Type.forSchema(schema as avro.Schema)).not.toThrow();
    const rejection = await failure(registry.register(subject, JSON.stringify(schema), 'BACKWARD'));
    expect(rejection).toBeInstanceOf(SchemaRejectedError);
  });
});

describe('issue 14 (deleted messages, mark as unread, mute): every changed subject, BACKWARD', () => {
  /** Each subject's schema as registered by the build before issue 14 (f84cca3). */
  const before = (name: string) =>
    readFileSync(path.join(__dirname, 'fixtures', `${name}-value-f84cca3.json`), 'utf8');
  const header = (id: number) => {
    const h = Buffer.alloc(5);
    h.writeInt32BE(id, 1);
    return h;
  };
  /** A record the previous build wrote, for each role, and how this build reads it. */
  const cases = [
    {
      role: 'conversationEvents',
      name: 'conversation-events',
      old: {
        event_id: 'e1',
        conversation_id: 'c1',
        occurred_at: 1000,
        payload: { [TypeName.MemberRemoved]: { user_id: 'bo', removed_at: 1000 } },
      },
    },
    {
      role: 'receiptEvents',
      name: 'receipt-events',
      old: {
        event_id: 'e2',
        conversation_id: 'c1',
        user_id: 'bo',
        device_id: 'phone',
        occurred_at: 1000,
        payload: { [TypeName.ReadUpTo]: { seq: 3, message_id: null } },
      },
    },
    {
      role: 'userSettings',
      name: 'user-settings',
      old: { user_id: 'bo', read_receipts_enabled: false, updated_at: 1000, version: 2 },
      read: { muted_conversations: [] }, // the new field's default
    },
    {
      role: 'stateChanges',
      name: 'state-changes',
      old: {
        changes: [
          {
            conversation_id: 'c1',
            source_offset: 4,
            change: {
              [TypeName.WatermarkAdvanced]: { user_id: 'bo', read_seq: 3, delivered_seq: 3, at: 9 },
            },
          },
        ],
      },
    },
    {
      role: 'deadLetters',
      name: 'dead-letters',
      old: {
        source_topic: 'receipt_events',
        source_partition: 0,
        source_offset: 5,
        key: null,
        value: null,
        reason: 'UNKNOWN_MESSAGE',
        detail: 'm9 unknown in c1',
        failed_at: 1000,
      },
    },
  ] as const;

  it.each(cases)(
    '$role: registers over the previous schema, and a record written before decodes',
    async ({ role, name, old, ...rest }) => {
      const subject = `ticks-test-ua-${name}-${run}-value`;
      subjects.push(subject);
      const previous = before(name);
      const v1 = await registry.register(subject, JSON.stringify(JSON.parse(previous)), 'BACKWARD');
      const v2 = await registry.register(subject, schemaCatalog().schemaText(role), 'BACKWARD');
      expect(v2).not.toBe(v1);
      const body = avro.Type.forSchema(JSON.parse(previous), avroTypeOptions()).toBuffer(old);
      // Read with this build's schema, as a consumer of the new build resolves v1 records.
      const reader = schemaCatalog().type(role);
      const writer = avro.Type.forSchema(JSON.parse(previous), avroTypeOptions());
      const resolved = reader.fromBuffer(body, reader.createResolver(writer));
      expect(JSON.parse(JSON.stringify(resolved))).toEqual({
        ...old,
        ...('read' in rest ? rest.read : {}),
      });
      const decoded = await new AvroCodec({ registry }).decode(Buffer.concat([header(v1), body]));
      expect(decoded).toMatchObject({ role, schemaId: v1 });
    },
  );
});

describe('decode errors against the real registry', () => {
  const codec = new AvroCodec({ registry });

  it('an id the registry does not know is UNKNOWN_SCHEMA', async () => {
    const error = await failure(codec.decode(Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 2, 0])));
    expect(error).toBeInstanceOf(UnknownSchemaError);
    expect((error as UnknownSchemaError).reason).toBe('UNKNOWN_SCHEMA');
    expect(error.message).toContain(config.registryUrl);
  });

  it('garbage bytes are UNDECODABLE', async () => {
    const error = await failure(codec.decode(Buffer.from('{"not":"avro"}')));
    expect(error).toBeInstanceOf(NotWireFormatError);
    expect((error as NotWireFormatError).reason).toBe('UNDECODABLE');
  });

  it('a registered id followed by a body that is not its record is UNDECODABLE', async () => {
    const topic = `ticks-test-garbage-${run}`;
    const { subject, id } = await codec.register(topic, 'presence');
    subjects.push(subject);
    const header = Buffer.alloc(5);
    header.writeInt32BE(id, 1);
    const error = await failure(
      new AvroCodec({ registry }).decode(Buffer.concat([header, Buffer.from([0xff, 0xff, 0xff])])),
    );
    expect(error).toBeInstanceOf(UndecodableBodyError);
    expect((error as UndecodableBodyError).reason).toBe('UNDECODABLE');
  });

  it('a registry that cannot be reached is a retriable error that says what to do', async () => {
    const unreachable = AvroCodec.connect({ url: 'http://127.0.0.1:9/apis/ccompat/v7' });
    const error = await failure(unreachable.decode(Buffer.from([0, 0, 0, 0, 1, 0])));
    expect(error).toBeInstanceOf(SchemaRegistryUnavailableError);
    expect((error as SchemaRegistryUnavailableError).retriable).toBe(true);
    expect(error.message).toMatch(
      /^Schema registry not reachable at http:\/\/127\.0\.0\.1:9\/apis\/ccompat\/v7 — run `npm run stack:up`/,
    );
  });
});
