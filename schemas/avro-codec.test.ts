import * as avro from 'avsc';
import { AvroCodec } from './avro-codec';
import { avroTypeOptions } from './avro-type-options';
import {
  InvalidFieldsError,
  NotWireFormatError,
  RoleNotRegisteredError,
  SchemaNotRegisteredError,
  UndecodableBodyError,
  UnknownSchemaError,
} from './codec-errors';
import { type RoleValue, type TopicRole, TOPIC_ROLES, schemaCatalog } from './schema-catalog';
import { TypeName } from './types';
import { MemoryRegistry } from '../tests/support/memory-registry';

const T0 = 1_700_000_000_000;

const SAMPLES: { [R in TopicRole]: RoleValue[R] } = {
  conversationEvents: {
    event_id: '6f1c2a9e-0d1b-4c55-9b8e-3f0a1c2d3e4f',
    conversation_id: 'c-1',
    occurred_at: T0,
    payload: {
      [TypeName.MessageSent]: {
        message_id: 'm-1',
        seq: 2 ** 53 - 2, // The largest long avsc writes without risking precision.
        sender_id: 'ana',
        kind: 'GROUP',
        sent_at: T0,
      },
    },
  },
  receiptEvents: {
    event_id: 'e-2',
    conversation_id: 'c-1',
    user_id: 'bo',
    device_id: 'phone',
    occurred_at: T0 + 1,
    payload: { [TypeName.Delivered]: { message_ids: ['m-1', 'm-2'], up_to_seq: null } },
  },
  userSettings: {
    user_id: 'bo',
    read_receipts_enabled: false,
    updated_at: T0,
    version: 3,
    muted_conversations: [
      { conversation_id: 'c1', until: T0 + 3_600_000 },
      { conversation_id: 'c2', until: null },
    ],
  },
  presence: { user_id: 'bo', device_id: 'phone', status: 'OFFLINE', at: T0, lease_ms: null },
  receiptUpdates: {
    update_id: 'u-1',
    user_id: 'ana',
    version: 7,
    source_event_at: T0,
    emitted_at: T0 + 40,
    payload: {
      [TypeName.OfflineBatch]: {
        updates: [
          {
            [TypeName.MessageStatusUpdate]: {
              conversation_id: 'c-2',
              message_id: 'm-9',
              seq: 9,
              status: 'READ',
              by: 'bo',
            },
          },
          {
            [TypeName.GroupSummary]: {
              conversation_id: 'c-1',
              message_id: 'm-1',
              seq: 1,
              status: 'DELIVERED',
              read_count: 0,
              delivered_count: 4,
              total: 19,
              window_start: T0,
              window_end: T0 + 2000,
            },
          },
          {
            [TypeName.UnreadSync]: {
              conversation_id: 'c-3',
              unread_count: 0,
              badge_count: 2,
              read_up_to_seq: 12,
              origin_device_id: null,
            },
          },
        ],
      },
    },
  },
  deadLetters: {
    source_topic: 'receipt_events',
    source_partition: 3,
    source_offset: 12_345_678_901,
    key: Buffer.from('c-1'),
    value: null,
    reason: 'UNDECODABLE',
    detail: 'first byte is 123, not the wire-format magic byte 0',
    failed_at: T0,
  },
  stateChanges: {
    changes: [
      {
        conversation_id: 'c-1',
        source_offset: 42,
        change: {
          [TypeName.WatermarkAdvanced]: { user_id: 'u-2', read_seq: 7, delivered_seq: 9, at: T0 },
        },
      },
      {
        conversation_id: 'c-1',
        source_offset: 43,
        change: {
          [TypeName.MessagesDelivered]: { user_id: 'u-3', message_ids: ['m-1', 'm-2'], at: T0 },
        },
      },
    ],
  },
};

async function registeredCodec(): Promise<{ codec: AvroCodec; registry: MemoryRegistry }> {
  const registry = new MemoryRegistry();
  const codec = new AvroCodec({ registry });
  for (const role of TOPIC_ROLES) await codec.register(`t_${role}`, role);
  return { codec, registry };
}

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('AvroCodec', () => {
  describe('register', () => {
    it('registers under <topic>-value with BACKWARD compatibility, idempotently', async () => {
      const registry = new MemoryRegistry();
      const codec = new AvroCodec({ registry });
      const first = await codec.register('receipt_events', 'receiptEvents');
      expect(first).toEqual({
        role: 'receiptEvents',
        topic: 'receipt_events',
        subject: 'receipt_events-value',
        id: 1,
      });
      expect(await registry.compatibility('receipt_events-value')).toBe('BACKWARD');
      expect(await codec.register('receipt_events', 'receiptEvents')).toEqual(first);
      expect(codec.schemaId('receiptEvents')).toBe(1);
    });

    it('lookup finds the id without registering, and says when it is missing', async () => {
      const registry = new MemoryRegistry();
      await new AvroCodec({ registry }).register('presence', 'presence');
      const reader = new AvroCodec({ registry });
      expect((await reader.lookup('presence', 'presence')).id).toBe(1);
      expect(await failure(reader.lookup('presence', 'userSettings'))).toBeInstanceOf(
        SchemaNotRegisteredError,
      );
    });
  });

  describe('round trip', () => {
    it.each(TOPIC_ROLES)('%s', async (role) => {
      const { codec } = await registeredCodec();
      const bytes = await codec.encode(role, SAMPLES[role]);
      expect(bytes[0]).toBe(0);
      expect(bytes.readInt32BE(1)).toBe(codec.schemaId(role));
      const decoded = await codec.decode(bytes);
      expect(decoded.role).toBe(role);
      expect(decoded.value).toEqual(SAMPLES[role]);
    });

    it('decodes in a process that did not register, asking the registry once per id', async () => {
      const { codec, registry } = await registeredCodec();
      const bytes = await codec.encode('receiptEvents', SAMPLES.receiptEvents);
      const consumer = new AvroCodec({ registry });
      const decoded = await Promise.all([1, 2, 3].map(() => consumer.decode(bytes)));
      for (const d of decoded) expect(d.value).toEqual(SAMPLES.receiptEvents);
      await consumer.decode(bytes);
      expect(registry.writerTypeCalls).toBe(1);
    });

    it('decodes timestamps as numbers and narrows the value by role', async () => {
      const { codec } = await registeredCodec();
      const decoded = await codec.decode(await codec.encode('presence', SAMPLES.presence));
      if (decoded.role !== 'presence') throw new Error(`decoded ${decoded.role}`);
      expect(typeof decoded.value.at).toBe('number');
      expect(decoded.value.status).toBe('OFFLINE');
    });

    it('encodes values larger than its scratch buffer', async () => {
      const { codec } = await registeredCodec();
      const value = { ...SAMPLES.deadLetters, value: Buffer.alloc(3 * 1024 * 1024, 7) };
      const decoded = await codec.decodeAs('deadLetters', await codec.encode('deadLetters', value));
      expect(decoded.value.value).toEqual(value.value);
      // And the next, small one still works.
      const small = await codec.encode('deadLetters', SAMPLES.deadLetters);
      expect((await codec.decode(small)).value).toEqual(SAMPLES.deadLetters);
    });
  });

  describe('encode errors', () => {
    it('lists the invalid fields', async () => {
      const { codec } = await registeredCodec();
      const bad = {
        ...SAMPLES.userSettings,
        version: 1.5,
        updated_at: new Date() as unknown as number,
      };
      const error = await failure(codec.encode('userSettings', bad));
      expect(error).toBeInstanceOf(InvalidFieldsError);
      expect((error as InvalidFieldsError).reason).toBe('INVALID_FIELDS');
      expect((error as InvalidFieldsError).paths.sort()).toEqual(['updated_at', 'version']);
    });

    it('refuses a seq beyond 2^53 rather than round it', async () => {
      const { codec } = await registeredCodec();
      const sent = { ...SAMPLES.conversationEvents };
      sent.payload = {
        [TypeName.MessageSent]: {
          message_id: 'm',
          seq: 2 ** 53,
          sender_id: 's',
          kind: 'DIRECT',
          sent_at: T0,
        },
      };
      expect(await failure(codec.encode('conversationEvents', sent))).toBeInstanceOf(
        InvalidFieldsError,
      );
    });

    it('refuses a role whose schema id it does not know', async () => {
      const codec = new AvroCodec({ registry: new MemoryRegistry() });
      expect(await failure(codec.encode('presence', SAMPLES.presence))).toBeInstanceOf(
        RoleNotRegisteredError,
      );
    });
  });

  describe('decode errors carry their dead-letter reason', () => {
    it.each([
      ['no bytes', Buffer.alloc(0)],
      ['a plain string', Buffer.from('hello, world')],
      ['a header cut short', Buffer.from([0, 0, 0])],
    ])('%s: UNDECODABLE, not the wire format', async (_label, bytes) => {
      const { codec, registry } = await registeredCodec();
      const error = await failure(codec.decode(bytes));
      expect(error).toBeInstanceOf(NotWireFormatError);
      expect((error as NotWireFormatError).reason).toBe('UNDECODABLE');
      expect(registry.writerTypeCalls).toBe(0);
    });

    it('an id the registry does not know: UNKNOWN_SCHEMA, remembered for a while', async () => {
      const { codec, registry } = await registeredCodec();
      const bytes = Buffer.from([0, 0, 0, 0x30, 0x39, 2, 4]);
      for (let i = 0; i < 3; i++) {
        const error = await failure(codec.decode(bytes));
        expect(error).toBeInstanceOf(UnknownSchemaError);
        expect((error as UnknownSchemaError).reason).toBe('UNKNOWN_SCHEMA');
        expect((error as UnknownSchemaError).schemaId).toBe(12345);
      }
      expect(registry.writerTypeCalls).toBe(1);
    });

    it('asks again about an unknown id once the retry delay has passed', async () => {
      const registry = new MemoryRegistry();
      const codec = new AvroCodec({ registry, unknownSchemaRetryMs: 0 });
      const bytes = Buffer.from([0, 0, 0, 0, 1, 0]);
      await failure(codec.decode(bytes));
      const id = registry.add(schemaCatalog().schemaText('presence'));
      expect(id).toBe(1);
      const presence = schemaCatalog().type('presence').toBuffer(SAMPLES.presence);
      const decoded = await codec.decode(Buffer.concat([bytes.subarray(0, 5), presence]));
      expect(decoded.value).toEqual(SAMPLES.presence);
    });

    it('a zero or negative id: UNKNOWN_SCHEMA without asking the registry', async () => {
      const { codec, registry } = await registeredCodec();
      expect(
        await failure(codec.decode(Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 0]))),
      ).toBeInstanceOf(UnknownSchemaError);
      expect(registry.writerTypeCalls).toBe(0);
    });

    it('a schema that is not a ticks envelope: UNKNOWN_SCHEMA', async () => {
      const { codec, registry } = await registeredCodec();
      const id = registry.add(JSON.stringify(schemaCatalog().compose(TypeName.MessageSent)));
      const error = await failure(codec.decode(Buffer.from([0, 0, 0, 0, id, 0])));
      expect(error).toBeInstanceOf(UnknownSchemaError);
      expect(error.message).toMatch(/MessageSent, not the envelope of a ticks topic/);
    });

    it('decodeAs: another envelope than the topic holds is UNKNOWN_SCHEMA', async () => {
      const { codec } = await registeredCodec();
      const bytes = await codec.encode('presence', SAMPLES.presence);
      const error = await failure(codec.decodeAs('userSettings', bytes));
      expect(error).toBeInstanceOf(UnknownSchemaError);
      expect(error.message).toMatch(/presence envelope, not the userSettings one/);
    });

    it.each([
      ['truncated', (b: Buffer) => b.subarray(0, b.length - 3)],
      ['followed by trailing data', (b: Buffer) => Buffer.concat([b, Buffer.from([1, 2])])],
      [
        'an invalid union index',
        (b: Buffer) => Buffer.concat([b.subarray(0, 5), Buffer.from([0x7e])]),
      ],
      [
        'random bytes',
        (b: Buffer) => Buffer.concat([b.subarray(0, 5), Buffer.from('ff00ee11dd22cc33bb', 'hex')]),
      ],
    ])('a body %s: UNDECODABLE', async (_label, corrupt) => {
      const { codec } = await registeredCodec();
      const bytes = corrupt(await codec.encode('receiptEvents', SAMPLES.receiptEvents));
      const error = await failure(codec.decode(bytes));
      expect(error).toBeInstanceOf(UndecodableBodyError);
      expect((error as UndecodableBodyError).reason).toBe('UNDECODABLE');
    });

    it('an array that announces more items than bytes: UNDECODABLE at once', async () => {
      const { codec } = await registeredCodec();
      const header = (await codec.encode('receiptEvents', SAMPLES.receiptEvents)).subarray(0, 5);
      const strings = avro.Type.forSchema('string');
      // Valid fields up to the Delivered payload, then message_ids announcing 2^31 items.
      const body = Buffer.concat([
        ...['e', 'c', 'u', 'd'].map((s) => strings.toBuffer(s)),
        avro.Type.forSchema('long').toBuffer(T0),
        Buffer.from([0, 2]), // Union branch 0 (Delivered), then message_ids' branch 1 (array).
        avro.Type.forSchema('long').toBuffer(2 ** 31),
      ]);
      const started = Date.now();
      const error = await failure(codec.decode(Buffer.concat([header, body])));
      expect(error).toBeInstanceOf(UndecodableBodyError);
      expect(Date.now() - started).toBeLessThan(100);
    });
  });

  describe('records written with another version of an envelope', () => {
    /** The composed schema of `role` with `edit` applied to the record named `name`. */
    function variant(
      role: TopicRole,
      name: string,
      edit: (fields: Record<string, unknown>[]) => void,
    ) {
      const schema = JSON.parse(schemaCatalog().schemaText(role)) as Record<string, unknown>;
      const visit = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(visit);
        else if (typeof node === 'object' && node !== null) {
          const record = node as Record<string, unknown>;
          if (record.name === name && Array.isArray(record.fields)) edit(record.fields);
          for (const field of (record.fields as Record<string, unknown>[] | undefined) ?? []) {
            visit(field.type);
          }
          if (record.type === 'array') visit(record.items);
        }
      };
      visit(schema);
      return schema;
    }

    async function writeWith(schema: Record<string, unknown>, value: unknown) {
      const registry = new MemoryRegistry();
      const id = registry.add(JSON.stringify(schema));
      const body = avro.Type.forSchema(schema as avro.Schema, avroTypeOptions()).toBuffer(value);
      const header = Buffer.from([0, 0, 0, 0, id]);
      return { codec: new AvroCodec({ registry }), bytes: Buffer.concat([header, body]) };
    }

    it('an older writer without a field that now has a default: read with the default', async () => {
      const old = variant('receiptUpdates', 'UnreadSync', (fields) => {
        fields.splice(
          fields.findIndex((f) => f.name === 'origin_device_id'),
          1,
        );
      });
      const sync = { conversation_id: 'c', unread_count: 1, badge_count: 1, read_up_to_seq: 4 };
      const value = { ...SAMPLES.receiptUpdates, payload: { [TypeName.UnreadSync]: sync } };
      const { codec, bytes } = await writeWith(old, value);
      const decoded = await codec.decodeAs('receiptUpdates', bytes);
      expect(decoded.value.payload).toEqual({
        [TypeName.UnreadSync]: { ...sync, origin_device_id: null },
      });
    });

    it('a newer writer with an extra field (arrays included): the field is skipped', async () => {
      const newer = variant('receiptEvents', 'ReceiptEvent', (fields) => {
        fields.splice(1, 0, {
          name: 'tags',
          type: { type: 'array', items: 'string' },
          default: [],
        });
      });
      const { codec, bytes } = await writeWith(newer, {
        ...SAMPLES.receiptEvents,
        tags: ['a', 'b'],
      });
      expect((await codec.decode(bytes)).value).toEqual(SAMPLES.receiptEvents);
    });

    it('a writer this build cannot read: UNKNOWN_SCHEMA', async () => {
      const incompatible = variant('userSettings', 'UserSettings', (fields) => {
        fields.splice(
          fields.findIndex((f) => f.name === 'version'),
          1,
        );
      });
      const { version: _dropped, ...value } = SAMPLES.userSettings;
      const { codec, bytes } = await writeWith(incompatible, value);
      const error = await failure(codec.decode(bytes));
      expect(error).toBeInstanceOf(UnknownSchemaError);
      expect(error.message).toMatch(/cannot be read as this build's version/);
    });
  });
});
