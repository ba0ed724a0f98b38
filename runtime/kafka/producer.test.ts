import type { Kafka, Message } from 'kafkajs';
import { KafkaSendTimeoutError } from './errors';
import { KafkaRecordProducer, unwrittenPartitions } from './producer';

describe('unwrittenPartitions', () => {
  const a = { key: 'a', value: Buffer.from('1') };
  const b = { key: 'b', value: Buffer.from('2') };
  const c = { key: 'c', value: Buffer.from('3'), partition: 4 };
  const batch = {
    topicMessages: [
      { topic: 't', messages: [a, b] },
      { topic: 'u', messages: [c] },
    ],
  };
  const chosen = new WeakMap<object, number>([
    [a, 0],
    [b, 2],
  ]);

  it('is empty when every partition sent to has an answer', () => {
    const written = [
      { topicName: 't', partition: 0 },
      { topicName: 't', partition: 2 },
      { topicName: 'u', partition: 4 },
    ];
    expect(unwrittenPartitions(batch, written, chosen)).toEqual([]);
  });

  // kafkajs' retry after a leader moved to a broker that had answered: that broker's first
  // answer is all there is, and the moved partition's records went nowhere.
  it('names the partitions without an answer', () => {
    const written = [
      { topicName: 't', partition: 0 },
      { topicName: 'u', partition: 4 },
    ];
    expect(unwrittenPartitions(batch, written, chosen)).toEqual(['t/2']);
  });

  it('counts a message whose partition was never chosen as unwritten', () => {
    const d = { key: 'd', value: Buffer.from('4') };
    const only = { topicMessages: [{ topic: 't', messages: [d] }] };
    expect(unwrittenPartitions(only, [{ topicName: 't', partition: 0 }], chosen)).toEqual(['t/?']);
  });
});

describe('KafkaRecordProducer', () => {
  /**
   * A fake kafkajs whose first sendBatch is slow: it writes its records 1.5 s later, after the
   * send's 1 s deadline (a broker answering late), as kafkajs may once the attempt was given up.
   */
  function slowFirstKafka(written: string[]): Kafka {
    let batches = 0;
    const producer = () => ({
      connect: async () => {},
      disconnect: async () => {},
      sendBatch: async (batch: {
        topicMessages: Array<{ topic: string; messages: Message[] }>;
      }) => {
        const delay = batches++ === 0 ? 1500 : 0;
        await new Promise((r) => setTimeout(r, delay));
        for (const { messages } of batch.topicMessages)
          for (const m of messages) written.push(String(m.key));
        return batch.topicMessages.map(({ topic }) => ({ topicName: topic, partition: 0 }));
      },
    });
    return { producer } as unknown as Kafka;
  }
  const record = (key: string) => ({ topic: 't', key, value: null, partition: 0 });

  it('sends nothing while an attempt given up at its deadline may still write', async () => {
    const written: string[] = [];
    const producer = await KafkaRecordProducer.connect(slowFirstKafka(written), ['b:9092'], 1000);
    await expect(producer.send([record('first')])).rejects.toBeInstanceOf(KafkaSendTimeoutError);
    // The caller goes on (a redo, later records): they must land after what the first wrote.
    await producer.send([record('second')]);
    expect(written).toEqual(['first', 'second']);
    await producer.close();
  });
});
