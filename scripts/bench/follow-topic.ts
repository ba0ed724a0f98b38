import type { KafkaClient } from '../../runtime/kafka/kafka-client';
import type { GroupConsumer, InboundRecord } from '../../runtime/kafka/types';

/**
 * Follows `topic` in a group of its own from its end as found now, and there again after a
 * rejoin under load (keepsPlace): no record produced once this is called goes unseen. Resolves
 * once the group assigned it the topic. `onRecord` gets each record, and when its batch was
 * handed over.
 */
export async function followTopic(
  kafka: KafkaClient,
  topic: string,
  groupId: string,
  onRecord: (record: InboundRecord, receivedAt: number) => Promise<void>,
): Promise<GroupConsumer> {
  let assigned!: () => void;
  const ready = new Promise<void>((r) => (assigned = r));
  const consumer = kafka.groupConsumer({
    groupId,
    topics: [topic],
    coPartitioned: false,
    fromBeginning: false,
    keepsPlace: true,
    onAssignment: () => assigned(),
    onBatch: async (batch) => {
      const receivedAt = Date.now();
      for (const r of batch.records) await onRecord(r, receivedAt);
    },
  });
  await consumer.start();
  await ready;
  return consumer;
}
