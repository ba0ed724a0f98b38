/** The servers of the local stack, in display order. Names match docker-compose.yml services. */
import { CassandraServer } from './cassandra';
import { KafkaServer } from './kafka';
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

/** The named servers; throws on an unknown name so a typo does not silently do nothing. */
export function serversNamed(names: readonly string[]): ManagedServer[] {
  const all = allServers();
  return names.map((name) => {
    const server = all.find((s) => s.name === name);
    if (!server) throw new Error(`unknown server "${name}" (known: ${SERVER_NAMES.join(', ')})`);
    return server;
  });
}
