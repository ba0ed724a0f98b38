/** The servers of the local stack, in display order. Names match docker-compose.yml services. */
import { CassandraServer } from './cassandra';
import { KafkaServer } from './kafka';
import { kafkaClusterNodes } from './kafka-cluster';
import type { ManagedServer } from './managed-server';
import { RedisServer } from './redis';
import { RegistryServer } from './registry';

export function allServers(): ManagedServer[] {
  return [
    new RedisServer('main'),
    new RedisServer('aux'),
    new KafkaServer(),
    new RegistryServer(),
    new CassandraServer(),
  ];
}

export const SERVER_NAMES = allServers().map((s) => s.name);

/** Servers started only when asked for (`up --kafka-brokers 3`); status and down include them. */
export function optionalServers(): ManagedServer[] {
  return kafkaClusterNodes();
}

/** The named servers; throws on an unknown name so a typo does not silently do nothing. */
export function serversNamed(names: readonly string[]): ManagedServer[] {
  const all = [...allServers(), ...optionalServers()];
  return names.map((name) => {
    const server = all.find((s) => s.name === name);
    if (!server)
      throw new Error(`unknown server "${name}" (known: ${all.map((s) => s.name).join(', ')})`);
    return server;
  });
}
