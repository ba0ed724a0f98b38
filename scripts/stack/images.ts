/**
 * Server versions, in one place for the three ways the stack runs: the Maven/Debian local stack
 * (scripts/stack), docker-compose.yml and the testcontainers setup (tests/setup). The tests check
 * that docker-compose.yml and the Maven POMs agree with this file.
 */
export const VERSIONS = {
  kafka: '4.1.1',
  apicurio: '3.3.3',
  cassandra: '5.0.6',
  redis: '7',
} as const;

/** Container images, keyed by docker-compose service name. */
export const IMAGES = {
  kafka: `apache/kafka:${VERSIONS.kafka}`,
  registry: `apicurio/apicurio-registry:${VERSIONS.apicurio}`,
  'redis-main': `redis:${VERSIONS.redis}`,
  'redis-aux': `redis:${VERSIONS.redis}`,
  cassandra: `cassandra:${VERSIONS.cassandra}`,
} as const;

export type ServiceName = keyof typeof IMAGES;
export const SERVICE_NAMES = Object.keys(IMAGES) as ServiceName[];
