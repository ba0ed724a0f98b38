import { randomBytes } from 'node:crypto';
import { loadConfig } from '../config/config';
import { KafkaClient } from '../runtime/kafka/kafka-client';
import type { GroupConsumer, RecordProducer } from '../runtime/kafka/types';
import { eventually } from './support/harness';

/**
 * A consumer that commits nothing (the push gateway's: a group per instance, from the end of
 * the topic) rejoining its group: kafkajs starts it again from the committed offsets, and with
 * none from the end of the topic, past what came while it was out. The rejoin here is a stop
 * and a start of the same consumer (what its restart after a Kafka outage does; a member the
 * coordinator dropped under load joins again the same way).
 */
describe('a group consumer that keeps its place (real Kafka)', () => {
  const config = loadConfig(process.env);
  const kafka = new KafkaClient({ brokers: config.kafka.brokers, clientId: 'ticks-place-test' });
  const topic = `place-${randomBytes(4).toString('hex')}`;
  let producer: RecordProducer;
  const consumers: GroupConsumer[] = [];

  beforeAll(async () => {
    await kafka.withAdmin((admin) =>
      admin.createMissing([{ name: topic, partitions: 2, replicationFactor: 1, configs: {} }]),
    );
    producer = await kafka.producer();
  });

  afterAll(async () => {
    for (const c of consumers) await c.stop();
    await producer?.close();
    await kafka.withAdmin((admin) => admin.deleteTopics([topic]));
  });

  /** Sends `values` to both partitions (each value once to each). */
  const send = (...values: string[]) =>
    producer.send(
      values.flatMap((value) =>
        [0, 1].map((partition) => ({ topic, partition, key: null, value: Buffer.from(value) })),
      ),
    );

  /** A consumer in a group of its own; what it is handed, as "partition:value". */
  function consumerOf(keepsPlace: boolean, fromBeginning = false) {
    const seen: string[] = [];
    const consumer = kafka.groupConsumer({
      groupId: `place-${randomBytes(4).toString('hex')}`,
      topics: [topic],
      coPartitioned: false,
      fromBeginning,
      keepsPlace,
      sessionTimeoutMs: 6_000,
      onBatch: async (batch) => {
        for (const r of batch.records) seen.push(`${r.partition}:${r.value!.toString()}`);
      },
    });
    consumers.push(consumer);
    return { consumer, seen };
  }

  const both = (...values: string[]) => values.flatMap((v) => [`0:${v}`, `1:${v}`]).sort();

  it('resumes where it was after a rejoin, and misses nothing sent once start() was called', async () => {
    await send('before');
    const { consumer, seen } = consumerOf(true);
    await consumer.start();
    // At once: its first fetch may not have asked where the end is yet.
    await send('r1');
    await eventually('r1 on both partitions', () => seen.length === 2, 20_000);
    await consumer.stop();
    await send('r2', 'r3');
    await consumer.start();
    await send('r4');
    await eventually('r2 to r4', () => seen.length === 8, 20_000);
    expect([...seen].sort()).toEqual(both('r1', 'r2', 'r3', 'r4'));
  }, 60_000);

  it('from the beginning: a rejoin resumes where it was instead of reading everything again', async () => {
    await send('t1');
    const { consumer, seen } = consumerOf(true, true);
    const has = (value: string) => seen.filter((s) => s.endsWith(`:${value}`)).length === 2;
    await consumer.start();
    await eventually('t1 on both partitions', () => has('t1'), 20_000);
    const before = seen.length;
    await consumer.stop();
    await send('t2');
    await consumer.start();
    await eventually('t2 on both partitions', () => has('t2'), 20_000);
    expect(seen.slice(before).sort()).toEqual(both('t2'));
  }, 60_000);

  it('without it, kafkajs starts a rejoined consumer at the end of the topic (what it is for)', async () => {
    const { consumer, seen } = consumerOf(false);
    const has = (value: string) => seen.filter((s) => s.endsWith(`:${value}`)).length >= 2;
    // Sent again until seen: without a place, where its first fetch starts is a race.
    const sendUntilSeen = (value: string) =>
      eventually(
        `${value} on both partitions`,
        async () => has(value) || void (await send(value)),
        20_000,
      );
    await consumer.start();
    await sendUntilSeen('s1');
    await consumer.stop();
    await send('s2');
    await consumer.start();
    await sendUntilSeen('s3');
    expect(has('s1')).toBe(true);
    expect(seen.filter((s) => s.endsWith(':s2'))).toEqual([]);
  }, 60_000);
});
