import { Kafka, logLevel } from 'kafkajs';
import { KafkaGroupConsumer } from './group-consumer';

describe('KafkaGroupConsumer.seek', () => {
  // kafkajs has no group before run() and while it restarts a crashed consumer; a rewind then
  // must not throw (it used to end the pipeline process from a commit's callback).
  it('does nothing while the consumer has no group', () => {
    const kafka = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });
    const consumer = new KafkaGroupConsumer(
      kafka,
      {
        groupId: 'g',
        topics: ['t'],
        coPartitioned: false,
        fromBeginning: false,
        onBatch: async () => undefined,
      },
      ['127.0.0.1:1'],
    );
    expect(() => consumer.seek({ topic: 't', partition: 0, nextOffset: '5' })).not.toThrow();
  });
});
