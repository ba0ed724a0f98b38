/** The servers of the local stack, in display order. Names match docker-compose.yml services. */
import { CassandraServer } from './cassandra';
import { KafkaServer } from './kafka';
import { kafkaClusterNodes } from './kafka-cluster';
import type { ManagedServer } from './managed-server';
import { RedisServer } from './redis';
import { clusterNodes } from './redis-cluster';
import { RegistryServer } from './registry';

export interface StackModes {
  /** Also the Redis Cluster's nodes (`stack:up -- --redis-cluster`). */
  redisCluster?: boolean;
}

export function allServers(modes: StackModes = {}): ManagedServer[] {
  return [
    new RedisServer('main'),
    new RedisServer('aux'),
    new KafkaServer(),
    new RegistryServer(),
    new CassandraServer(),
    ...(modes.redisCluster ? clusterNodes() : []),
  ];
}

/** Every server any mode runs: what `down` stops (if ours) and names can refer to. */
export function knownServers(): ManagedServer[] {
  return [...allServers({ redisCluster: true }), ...optionalServers()];
}

/** The default stack's servers (the docker-compose.yml services). */
export const SERVER_NAMES = allServers().map((s) => s.name);

/** Servers started only when asked for (`up --kafka-brokers 3`); status and down include them. */
export function optionalServers(): ManagedServer[] {
  return kafkaClusterNodes();
}

/** The named servers; throws on an unknown name so a typo does not silently do nothing. */
export function serversNamed(names: readonly string[]): ManagedServer[] {
  const all = knownServers();
  return names.map((name) => {
    const server = all.find((s) => s.name === name);
    if (!server)
      throw new Error(`unknown server "${name}" (known: ${all.map((s) => s.name).join(', ')})`);
    return server;
  });
}
