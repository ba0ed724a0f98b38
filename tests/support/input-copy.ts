import type { InboundRecord } from '../../runtime/kafka/types';
import { eventually, type Harness } from './harness';

/**
 * Copies every record of `from`'s input topics (conversation and receipt events) to the same
 * partitions of `to`'s, byte for byte with their timestamps: two harnesses then process the very
 * same input (event times, record times and event ids included), so their ends compare exactly.
 */
export async function copyInput(from: Harness, to: Harness): Promise<number> {
  const roles = ['conversationEvents', 'receiptEvents'] as const;
  const records = new Map<string, InboundRecord[]>();
  const groupId = `ticks-test-copy-${from.id}-${to.id}`;
  const consumer = from.kafka.groupConsumer({
    groupId,
    topics: roles.map((r) => from.topics[r]),
    coPartitioned: false,
    fromBeginning: true,
    onBatch: async (batch) => {
      const key = `${batch.topic}/${batch.partition}`;
      const read = records.get(key) ?? [];
      // In offset order, each once (a batch fetched again after a rebalance adds nothing).
      for (const r of batch.records) if (Number(r.offset) === read.length) read.push(r);
      records.set(key, read);
    },
  });
  const ends = await from.kafka.withAdmin((a) =>
    Promise.all(roles.map((r) => a.endOffsets(from.topics[r]))),
  );
  await consumer.start();
  try {
    await eventually(
      `every input record of harness ${from.id} to be read`,
      () =>
        roles.every((role, i) =>
          [...ends[i]!].every(
            ([partition, end]) =>
              (records.get(`${from.topics[role]}/${partition}`)?.length ?? 0) >= Number(end),
          ),
        ),
      60_000,
    );
  } finally {
    await consumer.stop();
    await from.kafka.withAdmin((a) => a.deleteGroup(groupId));
  }
  const producer = await to.kafka.producer();
  try {
    let copied = 0;
    for (const role of roles)
      for (const [partition] of ends[roles.indexOf(role)]!) {
        const batch = records.get(`${from.topics[role]}/${partition}`) ?? [];
        for (let i = 0; i < batch.length; i += 500) {
          await producer.send(
            batch.slice(i, i + 500).map((r) => ({
              topic: to.topics[role],
              partition,
              key: r.key,
              value: r.value,
              timestamp: r.timestamp,
            })),
          );
        }
        copied += batch.length;
      }
    return copied;
  } finally {
    await producer.close();
  }
}
