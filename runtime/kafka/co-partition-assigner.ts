import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';
import { CoPartitioningError } from '../topics';

export type Assignment = Record<string, Record<string, number[]>>;

/**
 * Partition p of every subscribed topic goes to the same member, as Kafka Streams assigns a
 * task: a conversation's messages and receipts are then processed by one process, in order.
 * Partitions are dealt round-robin over the sorted member ids, so the result is deterministic.
 */
export function coPartitionAssignment(
  memberIds: string[],
  partitionsByTopic: Map<string, number>,
): Assignment {
  const counts = new Set(partitionsByTopic.values());
  if (counts.size > 1)
    throw new CoPartitioningError(
      `co-partitioned topics disagree on partition count: ${[...partitionsByTopic]
        .map(([t, n]) => `${t}=${n}`)
        .join(', ')}`,
    );
  const members = [...memberIds].sort();
  const assignment: Assignment = {};
  for (const member of members) assignment[member] = {};
  const partitions = counts.size === 0 ? 0 : [...counts][0]!;
  for (let p = 0; p < partitions; p++) {
    const member = members[p % members.length]!;
    for (const topic of partitionsByTopic.keys()) (assignment[member]![topic] ??= []).push(p);
  }
  return assignment;
}

export const CO_PARTITION_ASSIGNER_NAME = 'TicksCoPartitionAssigner';

export const CoPartitionAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITION_ASSIGNER_NAME,
  version: 1,
  async assign({ members, topics }) {
    const partitionsByTopic = new Map(
      topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).length]),
    );
    const assignment = coPartitionAssignment(
      members.map((m) => m.memberId),
      partitionsByTopic,
    );
    return Object.entries(assignment).map(([memberId, topicPartitions]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 1,
        assignment: topicPartitions,
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: CO_PARTITION_ASSIGNER_NAME,
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: 1,
        topics,
        userData: Buffer.alloc(0),
      }),
    };
  },
});
