import type { TicksConfig } from '../config/config';
import type { KafkaClient } from './kafka/kafka-client';
import { assertCoPartitioned, topicSpecs } from './topics';

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  partitions: number;
}

/**
 * Creates every declared topic that is missing (idempotent), then refuses to go on if the
 * co-partitioned input topics disagree on partition count.
 */
export async function ensureTopics(
  kafka: KafkaClient,
  config: Pick<TicksConfig, 'topics'>,
): Promise<EnsureTopicsResult> {
  const specs = topicSpecs(config);
  return kafka.withAdmin(async (admin) => {
    const created = await admin.createMissing(specs);
    const counts = await admin.partitionCounts(specs.map((s) => s.name));
    const partitions = assertCoPartitioned(specs, counts);
    return {
      created,
      existing: specs.map((s) => s.name).filter((n) => !created.includes(n)),
      partitions,
    };
  });
}
