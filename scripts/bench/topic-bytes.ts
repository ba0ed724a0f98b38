import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { TopicAdmin } from '../../runtime/kafka/topic-admin';
import { dataRoot } from '../stack/paths';

/** One topic of a run, as the brokers hold it. */
export interface TopicBytes {
  /** Bytes of its log segments on disk, one replica (all replicas ÷ replicas). */
  bytes: number;
  records: number;
  /** Copies of each partition found on disk (the replication factor, if every broker is local). */
  replicas: number;
}

/**
 * The log directories of the local stack's brokers (`.stack/data/kafka*\/kraft-logs`): the single
 * broker's and, in cluster mode, each node's. None when the stack is not on this machine.
 */
export function localKafkaLogDirs(root = dataRoot): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => name.startsWith('kafka'))
    .map((name) => path.join(root, name, 'kraft-logs'))
    .filter((dir) => existsSync(dir));
}

/**
 * Bytes on disk of the topics whose names start with `prefix`, from the brokers' segment files
 * (`<topic>-<partition>/*.log`: record batches as the broker stores them, after any compression;
 * the preallocated index files are left out), and their records from the end offsets. What a
 * broker writes to disk per event, and what a consumer of the topic fetches, follow from these.
 */
export async function topicBytes(
  admin: TopicAdmin,
  prefix: string,
  logDirs: string[],
): Promise<Record<string, TopicBytes>> {
  const bytes = new Map<string, number>();
  const copies = new Map<string, number>();
  for (const dir of logDirs)
    for (const entry of readdirSync(dir)) {
      const m = /^(.*)-(\d+)$/.exec(entry);
      if (!m || !m[1]!.startsWith(prefix)) continue;
      const topic = m[1]!;
      const partitionDir = path.join(dir, entry);
      const size = readdirSync(partitionDir)
        .filter((f) => f.endsWith('.log'))
        .reduce((sum, f) => sum + statSync(path.join(partitionDir, f)).size, 0);
      bytes.set(topic, (bytes.get(topic) ?? 0) + size);
      copies.set(topic, (copies.get(topic) ?? 0) + 1);
    }
  const out: Record<string, TopicBytes> = {};
  for (const topic of [...bytes.keys()].sort()) {
    const ends = await admin.endOffsets(topic);
    const partitions = ends.size || 1;
    const replicas = Math.max(1, Math.round(copies.get(topic)! / partitions));
    out[topic.slice(prefix.length)] = {
      bytes: bytes.get(topic)! / replicas,
      records: [...ends.values()].reduce((sum, o) => sum + Number(o), 0),
      replicas,
    };
  }
  return out;
}
