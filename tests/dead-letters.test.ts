import * as avro from 'avsc';
import { avroTypeOptions } from '../schemas/avro-type-options';
import { ConfluentRegistryClient } from '../schemas/confluent-registry-client';
import { TypeName, type ReceiptEvent } from '../schemas/types';
import { createHarness, eventually, type Harness } from './support/harness';
import { PipelineProcess } from './support/pipeline-process';

describe('bad input goes to the dead letters, and the pipeline goes on', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ TICKS_MAX_DELIVERED_BATCH: '10' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('each kind of bad input lands with its reason, original bytes and source', async () => {
    const c = 'dlq';
    const garbage = Buffer.from('this is not avro');
    const unknownSchema = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 1, 2, 3]);
    h.publish.memberAdded(c, 'A', 'GROUP').memberAdded(c, 'B', 'GROUP');
    h.publish.raw('receiptEvents', c, garbage);
    h.publish.raw('conversationEvents', c, unknownSchema);
    h.publish.read(c, '', { seq: 1 }); // empty user id
    h.publish.encoded('receiptEvents', c, {
      event_id: 'e1',
      conversation_id: c,
      user_id: 'B',
      device_id: 'd',
      occurred_at: Date.now(),
      payload: { [TypeName.ReadUpTo]: { seq: null, message_id: null } },
    });
    h.publish.encoded('receiptEvents', c, {
      // the key differs from its conversation_id
      event_id: 'e2',
      conversation_id: 'not-' + c,
      user_id: 'B',
      device_id: 'd',
      occurred_at: Date.now(),
      payload: { [TypeName.ReadUpTo]: { seq: 1, message_id: null } },
    });
    h.publish.delivered(c, 'B', { messageIds: Array.from({ length: 11 }, (_, i) => `m${i}`) });
    h.publish.messageSent(c, { messageId: 'ok', seq: 1, senderId: 'A', kind: 'GROUP' });
    h.publish.messageSent(c, {
      messageId: 'old',
      seq: 2,
      senderId: 'A',
      kind: 'GROUP',
      sentAt: -5,
    });
    h.publish.read(c, 'B', { seq: 1 });
    await h.publish.flush();

    await eventually(
      'good events still processed',
      async () => (await h.read.watermark(c, 'B')) === 1,
    );
    const dead = await eventually(
      'dead letters',
      () => (h.out.deadLetters.length >= 6 ? h.out.deadLetters : undefined),
      15_000,
    );
    const reasons = dead.map((d) => d.reason).sort();
    expect(reasons).toEqual(
      expect.arrayContaining([
        'UNDECODABLE',
        'UNKNOWN_SCHEMA',
        'INVALID_FIELDS',
        'OVERSIZED_BATCH',
      ]),
    );
    expect(reasons.filter((r) => r === 'INVALID_FIELDS').length).toBeGreaterThanOrEqual(4);
    // A message sent before 1970 is refused whole: nothing of it is stored (no unread, no index).
    expect(dead.some((d) => /sent_at must be epoch milliseconds .* got -5/.test(d.detail))).toBe(
      true,
    );
    expect(await h.read.unread(c, 'B')).toBe(0);
    expect(await h.redis.hget(h.keys.conversationKey(c, 'msg'), 'old')).toBeNull();

    const undecodable = dead.find((d) => d.reason === 'UNDECODABLE')!;
    expect(undecodable.value).toEqual(garbage);
    expect(undecodable.source_topic).toBe(h.topics.receiptEvents);
    expect(undecodable.source_offset).toBeGreaterThanOrEqual(0);
    expect(undecodable.key?.toString()).toBe(c);
    const unknown = dead.find((d) => d.reason === 'UNKNOWN_SCHEMA')!;
    expect(unknown.value).toEqual(unknownSchema);
    expect(unknown.source_topic).toBe(h.topics.conversationEvents);
    expect(dead.find((d) => d.reason === 'OVERSIZED_BATCH')!.detail).toMatch(
      /11 ids, the limit is 10/,
    );
    expect(dead.some((d) => /key does not match/.test(d.detail))).toBe(true);
    expect(dead.some((d) => /user_id is empty/.test(d.detail))).toBe(true);
    expect(dead.some((d) => /exactly one of seq and message_id/.test(d.detail))).toBe(true);
    const counted = await h.pipeline.metrics.total(h.pipeline.metrics.deadLetters);
    expect(counted).toBeGreaterThanOrEqual(dead.length);
  });
});

/**
 * A record that used to freeze the decoder (a negative block size where a newer writer's schema
 * has an array): the pipeline runs in a child process, so that a hang fails this test instead of
 * freezing the test run.
 */
describe('a record that would hang the decoder', () => {
  let h: Harness;
  let child: PipelineProcess | undefined;
  beforeAll(async () => {
    h = await createHarness({}, { startPipeline: false });
  });
  afterAll(async () => {
    await child?.kill();
    await h?.close();
  });

  it('is dead-lettered as UNDECODABLE with its reason, and the records after it are processed', async () => {
    const c = 'dlq-hang';
    // A newer writer of receipt_events: an array field first, compatible (it has a default).
    const newer = JSON.parse(h.codec.catalog.schemaText('receiptEvents')) as { fields: unknown[] };
    newer.fields.unshift({ name: 'tags', type: { type: 'array', items: 'string' }, default: [] });
    const registry = new ConfluentRegistryClient({ url: h.config.registryUrl });
    const id = await registry.register(
      `${h.topics.receiptEvents}-value`,
      JSON.stringify(newer),
      'BACKWARD',
    );
    const receipt: ReceiptEvent = {
      event_id: 'e-hang',
      conversation_id: c,
      user_id: 'B',
      device_id: 'd',
      occurred_at: Date.now(),
      payload: { [TypeName.ReadUpTo]: { seq: 1, message_id: null } },
    };
    const rest = avro.Type.forSchema(newer as avro.Schema, avroTypeOptions())
      .toBuffer({ tags: [], ...receipt })
      .subarray(1); // without the empty array's 00
    // Count -1 then a negative block size: -2 (the 01 03 of the report), -1 (01 01).
    const hostile = [
      [1, 3],
      [1, 1],
    ].map((header) => {
      const bytes = Buffer.concat([Buffer.alloc(5), Buffer.from(header), rest]);
      bytes.writeInt32BE(id, 1);
      return bytes;
    });

    h.publish.memberAdded(c, 'A', 'GROUP').memberAdded(c, 'B', 'GROUP');
    h.publish.messageSent(c, { messageId: 'm1', seq: 1, senderId: 'A', kind: 'GROUP' });
    for (const bytes of hostile) h.publish.raw('receiptEvents', c, bytes);
    h.publish.read(c, 'B', { seq: 1 });
    await h.publish.flush();
    child = new PipelineProcess(h);

    await eventually(
      'the read after it applied',
      async () => (await h.read.watermark(c, 'B')) === 1,
      30_000,
    );
    for (const [i, bytes] of hostile.entries()) {
      const dead = await eventually(`dead letter ${i}`, () =>
        h.out.deadLetters.find((d) => d.value?.equals(bytes)),
      );
      expect(dead.reason).toBe('UNDECODABLE');
      expect(dead.detail).toMatch(`array block size -${2 - i} is negative`);
      expect(dead.source_topic).toBe(h.topics.receiptEvents);
    }
    expect(child.running).toBe(true);
  });
});
