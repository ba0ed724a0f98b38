import { randomBytes } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import { JavaCompatiblePartitioner, murmur2 } from './java-partitioner';

describe('JavaCompatiblePartitioner', () => {
  it('matches the Java client (values from org.apache.kafka.common.utils.Utils.murmur2)', () => {
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from(''))).toBe(275646681);
  });

  it('puts every key on the partition kafkajs DefaultPartitioner picks', () => {
    const ours = JavaCompatiblePartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    for (const partitions of [1, 2, 6, 7, 64]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
        partitionId: i,
        leader: 1,
        partitionErrorCode: 0,
        replicas: [1],
        isr: [1],
      }));
      for (let i = 0; i < 500; i++) {
        const key = i % 2 === 0 ? `conversation-${i}` : randomBytes(i % 37).toString('base64');
        const args = { topic: 't', partitionMetadata, message: { key, value: null } };
        expect(ours(args)).toBe(theirs(args));
      }
    }
  });
});
