import { Redis } from 'ioredis';
import type { TicksConfig } from '../../config/config';
import { KafkaClient } from '../../runtime/kafka/kafka-client';
import { ConfluentRegistryClient } from '../../schemas/confluent-registry-client';
import { deleteMatching } from './redis-probe';
import { dropRunKeyspace } from './run-keyspace';

/** The names a bench run uses, all derived from its id. */
export function runNames(id: string): {
  topicPrefix: string;
  keyPrefix: string;
  groupId: string;
} {
  return { topicPrefix: `bench-${id}.`, keyPrefix: `bench${id}`, groupId: `ticks-bench-${id}` };
}

/** The TICKS_* variables that give a run's processes its own topics, keys and group. */
export function runEnv(id: string, partitions: number, logLevel: string): Record<string, string> {
  const names = runNames(id);
  return {
    TICKS_TOPIC_PREFIX: names.topicPrefix,
    TICKS_REDIS_KEY_PREFIX: names.keyPrefix,
    TICKS_GROUP_ID: names.groupId,
    TICKS_PARTITIONS: String(partitions),
    TICKS_LOG_LEVEL: process.env.TICKS_LOG_LEVEL ?? logLevel,
  };
}

/**
 * Deletes what a bench run created: its topics and their schema subjects, its consumer groups
 * (the pipeline's settings group and the persister's included), its keys on both Redis servers,
 * its Cassandra keyspace. Used at the end of a run, on Ctrl-C, and by
 * `npm run bench -- --clean <id>` after a run that was killed. (Subjects left by hundreds of
 * runs filled the local registry's heap: it stalled for ~10 s at a time.)
 */
export async function cleanUpRun(
  id: string,
  config: Pick<TicksConfig, 'kafka' | 'redis' | 'cassandra' | 'registryUrl'>,
): Promise<{ topics: number; groups: number; keys: number; keyspaces: number }> {
  const names = runNames(id);
  const kafka = new KafkaClient({
    brokers: config.kafka.brokers,
    clientId: `ticks-bench-clean-${id}`,
  });
  const { topics, groups } = await kafka.withAdmin(async (admin) => {
    const topics = await admin.topicsStartingWith(names.topicPrefix);
    await admin.deleteTopics(topics);
    const groups = await admin.groupsStartingWith(names.groupId);
    for (const g of groups) await admin.deleteGroup(g);
    return { topics, groups: groups.length };
  });
  const registry = new ConfluentRegistryClient({ url: config.registryUrl });
  for (const topic of topics) await registry.deleteSubject(`${topic}-value`);
  let keys = 0;
  for (const url of [config.redis.main.url, config.redis.aux.url]) {
    const redis = new Redis(url);
    try {
      keys += await deleteMatching(redis, `${names.keyPrefix}:*`);
    } finally {
      redis.disconnect();
    }
  }
  const keyspaces = (await dropRunKeyspace(id, config)) ? 1 : 0;
  return { topics: topics.length, groups, keys, keyspaces };
}
