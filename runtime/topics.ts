import type { TicksConfig } from '../config/config';
import type { TopicRole } from '../schemas/topic-role';

export type { TopicRole };

export interface TopicSpec {
  role: TopicRole;
  name: string;
  /** What the record key holds; input topics keyed by conversation_id must be co-partitioned. */
  key: 'conversation_id' | 'user_id' | 'source key';
  partitions: number;
  replicationFactor: number;
  /** Kafka topic configs (cleanup.policy, retention.ms, ...). */
  configs: Record<string, string>;
  /** Topics keyed by conversation_id (the inputs and their changelog): partition p of each holds the same conversations. */
  coPartitioned: boolean;
}

const BASE_NAMES: Record<TopicRole, string> = {
  conversationEvents: 'conversation_events',
  receiptEvents: 'receipt_events',
  userSettings: 'user_settings',
  presence: 'presence',
  receiptUpdates: 'receipt_updates',
  deadLetters: 'dead_letters',
  stateChanges: 'state_changes',
};

export function topicName(config: Pick<TicksConfig, 'topics'>, role: TopicRole): string {
  return `${config.topics.prefix}${BASE_NAMES[role]}`;
}

export type TopicNames = Record<TopicRole, string>;

export function topicNames(config: Pick<TicksConfig, 'topics'>): TopicNames {
  const names = {} as TopicNames;
  for (const role of Object.keys(BASE_NAMES) as TopicRole[]) names[role] = topicName(config, role);
  return names;
}

/** Every topic of ticks, declared once. */
export function topicSpecs(config: Pick<TicksConfig, 'topics'>): TopicSpec[] {
  const { partitions, replicationFactor, retentionMs } = config.topics;
  const retained = { 'cleanup.policy': 'delete', 'retention.ms': String(retentionMs) };
  const spec = (
    role: TopicRole,
    key: TopicSpec['key'],
    configs: Record<string, string>,
    coPartitioned: boolean,
  ): TopicSpec => ({
    role,
    name: topicName(config, role),
    key,
    partitions,
    replicationFactor,
    configs,
    coPartitioned,
  });
  return [
    spec('conversationEvents', 'conversation_id', retained, true),
    spec('receiptEvents', 'conversation_id', retained, true),
    // A global table: every process reads all of it, so only the latest value per user matters.
    spec(
      'userSettings',
      'user_id',
      { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0' },
      false,
    ),
    spec('presence', 'user_id', { ...retained, 'retention.ms': String(24 * 3600 * 1000) }, false),
    spec(
      'receiptUpdates',
      'user_id',
      { ...retained, 'retention.ms': String(24 * 3600 * 1000) },
      false,
    ),
    // The processors' changelog: what the persister writes to Cassandra.
    // The changelog of the input partitions: step p's changes go to partition p (changelog.ts).
    spec('stateChanges', 'conversation_id', retained, true),
    spec(
      'deadLetters',
      'source key',
      { ...retained, 'retention.ms': String(30 * 24 * 3600 * 1000) },
      false,
    ),
  ];
}

export class CoPartitioningError extends Error {
  override readonly name = 'CoPartitioningError';
}

/**
 * Kafka Streams refuses to start when co-partitioned topics disagree on partition count: a
 * conversation's messages and receipts would land on different processes. So do we.
 */
export function assertCoPartitioned(
  specs: TopicSpec[],
  actualPartitions: Map<string, number>,
): number {
  const counts = specs
    .filter((s) => s.coPartitioned)
    .map((s) => ({ name: s.name, partitions: actualPartitions.get(s.name) }));
  const missing = counts.filter((c) => c.partitions === undefined);
  if (missing.length > 0)
    throw new CoPartitioningError(
      `Topics keyed by conversation_id missing: ${missing.map((m) => m.name).join(', ')} — run \`npm run topics:create\``,
    );
  const distinct = new Set(counts.map((c) => c.partitions));
  if (distinct.size > 1)
    throw new CoPartitioningError(
      `Topics keyed by conversation_id (inputs and their changelog) must have the same partition count, found ${counts
        .map((c) => `${c.name}=${c.partitions}`)
        .join(', ')} — recreate them with the same count (TICKS_PARTITIONS)`,
    );
  return counts[0]!.partitions!;
}
