import { EventPublisher } from './event-publisher';
import type { RecordCodec } from './api/record-codec';
import type { OutboundRecord, RecordProducer } from './kafka/types';
import type { TopicNames } from './topics';

/** A producer whose next sends fail with the queued errors, then record what they send. */
class ScriptedProducer implements Pick<RecordProducer, 'send' | 'close'> {
  readonly failures: Error[] = [];
  readonly sent: OutboundRecord[][] = [];
  async send(records: OutboundRecord[]): Promise<void> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.sent.push(records);
  }
  async close(): Promise<void> {}
}

describe('EventPublisher.flush', () => {
  const topics = { receiptEvents: 'receipts' } as unknown as TopicNames;
  const codec = { encode: async () => Buffer.from('v') } as unknown as RecordCodec;
  const setUp = () => {
    const producer = new ScriptedProducer();
    const publisher = new EventPublisher(producer as RecordProducer, codec, topics);
    return { producer, publisher };
  };

  it('drops a batch whose send failed, by default', async () => {
    const { producer, publisher } = setUp();
    producer.failures.push(new Error('timed out'));
    publisher.raw('receiptEvents', 'c1', null);
    await expect(publisher.flush()).rejects.toThrow('timed out');
    expect(publisher.pending).toBe(0);
  });

  it('with keepOnFailure, queues a failed batch again ahead of what came since', async () => {
    const { producer, publisher } = setUp();
    producer.failures.push(new Error('timed out'));
    publisher.raw('receiptEvents', 'c1', null).encoded('receiptEvents', 'c2', {});
    await expect(publisher.flush({ keepOnFailure: true })).rejects.toThrow('timed out');
    publisher.raw('receiptEvents', 'c3', null);
    expect(await publisher.flush()).toBe(3);
    expect(producer.sent.flat().map((r) => r.key)).toEqual(['c1', 'c2', 'c3']);
  });
});
