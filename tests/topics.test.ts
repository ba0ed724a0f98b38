import { randomBytes } from 'node:crypto';
import { loadConfig } from '../config/config';
import { ensureTopics } from '../runtime/ensure-topics';
import { KafkaClient } from '../runtime/kafka/kafka-client';
import { CoPartitioningError, topicSpecs } from '../runtime/topics';

describe('topics (real Kafka)', () => {
  const config = loadConfig({
    ...process.env,
    TICKS_TOPIC_PREFIX: `tt${randomBytes(3).toString('hex')}.`,
    TICKS_PARTITIONS: '3',
  });
  const kafka = new KafkaClient({ brokers: config.kafka.brokers, clientId: 'ticks-topics-test' });
  const names = topicSpecs(config).map((s) => s.name);

  afterAll(async () => {
    await kafka.withAdmin((admin) => admin.deleteTopics(names));
  });

  it('creates every declared topic once; a second run creates nothing', async () => {
    const first = await ensureTopics(kafka, config);
    expect(first.created.sort()).toEqual([...names].sort());
    expect(first.partitions).toBe(3);
    const second = await ensureTopics(kafka, config);
    expect(second.created).toEqual([]);
    expect(second.existing.sort()).toEqual([...names].sort());
  });

  it('gives user_settings log compaction, on the broker too', async () => {
    const settings = topicSpecs(config).find((s) => s.role === 'userSettings')!;
    expect(settings.configs['cleanup.policy']).toBe('compact');
    // What the broker says (describeConfigs), not only what we asked for: a mute or a privacy
    // setting must outlive the retention of the delete-policy topics.
    await ensureTopics(kafka, config);
    const events = topicSpecs(config).find((s) => s.role === 'conversationEvents')!;
    const [onBroker, eventsOnBroker] = await kafka.withAdmin((admin) =>
      Promise.all([
        admin.topicConfig(settings.name, ['cleanup.policy']),
        admin.topicConfig(events.name, ['cleanup.policy']),
      ]),
    );
    expect(onBroker).toEqual({ 'cleanup.policy': 'compact' });
    expect(eventsOnBroker).toEqual({ 'cleanup.policy': 'delete' });
  });

  it('refuses to run when the co-partitioned input topics disagree on partition count', async () => {
    const mismatched = loadConfig({
      ...process.env,
      TICKS_TOPIC_PREFIX: `tm${randomBytes(3).toString('hex')}.`,
      TICKS_PARTITIONS: '2',
    });
    const specs = topicSpecs(mismatched);
    const receipts = specs.find((s) => s.role === 'receiptEvents')!;
    try {
      // Someone created receipt_events by hand with another count.
      await kafka.withAdmin((admin) => admin.createMissing([{ ...receipts, partitions: 4 }]));
      await expect(ensureTopics(kafka, mismatched)).rejects.toThrow(CoPartitioningError);
      await expect(ensureTopics(kafka, mismatched)).rejects.toThrow(
        /conversation_events=2.*receipt_events=4/,
      );
    } finally {
      await kafka.withAdmin((admin) => admin.deleteTopics(specs.map((s) => s.name)));
    }
  });
});
