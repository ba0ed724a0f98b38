import { unwrittenPartitions } from './producer';

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
