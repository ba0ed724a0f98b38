/** `stack:up`'s options for the optional servers: which to start, and what to tell the user. */
import { Option } from 'commander';
import { KAFKA_CLUSTER_ENV, KAFKA_CLUSTER_NAMES, KAFKA_CLUSTER_SIZE } from './kafka-cluster';
import { allServers, type StackModes } from './servers';

export interface UpFlags {
  /** '1': the stack's single broker only; KAFKA_CLUSTER_SIZE: the cluster as well. */
  kafkaBrokers: string;
}

export function kafkaBrokersOption(): Option {
  return new Option(
    '--kafka-brokers <count>',
    `also start a ${KAFKA_CLUSTER_SIZE}-broker KRaft cluster (replication factor 3, ` +
      'min.insync.replicas 2) on its own ports, beside the single broker',
  )
    .choices(['1', String(KAFKA_CLUSTER_SIZE)])
    .default('1');
}

const withCluster = (flags: UpFlags): boolean => Number(flags.kafkaBrokers) > 1;

/** The stack's servers, with the Redis Cluster's nodes and the Kafka cluster's when asked for. */
export function serversToStart(flags: UpFlags & StackModes): string[] {
  const names = allServers({ redisCluster: flags.redisCluster }).map((s) => s.name);
  return withCluster(flags) ? [...names, ...KAFKA_CLUSTER_NAMES] : names;
}

/** How to point ticks at what was started beyond the stack. */
export function afterUp(flags: UpFlags): string[] {
  if (!withCluster(flags)) return [];
  const env = Object.entries(KAFKA_CLUSTER_ENV).map(([k, v]) => `${k}=${v}`);
  return [`\nthe ${KAFKA_CLUSTER_SIZE}-broker cluster: run ticks on it with`, `  ${env.join(' ')}`];
}
