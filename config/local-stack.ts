/**
 * Where the local stack listens. The stack scripts bind these ports and the configuration's
 * defaults point at them, so both read them from here. Ports are ours (not 6379, 9092, 9042,
 * 8081) so that a developer's own servers are never touched.
 *
 * TICKS_STACK_PORT_OFFSET (default 0) shifts every port: with TICKS_STACK_DIR it runs a second,
 * private stack beside the shared one (the chaos suite restarts its servers without touching
 * anyone else's).
 */
const offset = stackPortOffset(process.env['TICKS_STACK_PORT_OFFSET']);

export const LOCAL_STACK = {
  host: '127.0.0.1',
  kafka: { port: 19092 + offset, controllerPort: 19093 + offset },
  /** The optional 3-broker cluster (`npm run stack:up -- --kafka-brokers 3`): node i, i from 0. */
  kafkaCluster: {
    ports: [19192 + offset, 19193 + offset, 19194 + offset],
    controllerPorts: [19195 + offset, 19196 + offset, 19197 + offset],
  },
  registry: {
    port: 18081 + offset,
    managementPort: 18082 + offset,
    ccompatPath: '/apis/ccompat/v7',
  },
  redisMain: { port: 16379 + offset },
  redisAux: { port: 16380 + offset },
  /**
   * `stack:up -- --redis-cluster`: 3 masters and 3 replicas on consecutive ports from this one;
   * each node's cluster bus on its port + busOffset (not Redis' +10000: ours stay together).
   */
  redisCluster: { firstPort: 17381 + offset, nodes: 6, replicasPerMaster: 1, busOffset: 100 },
  cassandra: {
    port: 19042 + offset,
    storagePort: 17000 + offset,
    jmxPort: 17199 + offset,
    datacenter: 'datacenter1',
  },
} as const;

export const localUrls = {
  kafkaBrokers: `${LOCAL_STACK.host}:${LOCAL_STACK.kafka.port}`,
  kafkaClusterBrokers: LOCAL_STACK.kafkaCluster.ports
    .map((p) => `${LOCAL_STACK.host}:${p}`)
    .join(','),
  registryUrl: `http://${LOCAL_STACK.host}:${LOCAL_STACK.registry.port}${LOCAL_STACK.registry.ccompatPath}`,
  redisMainUrl: `redis://${LOCAL_STACK.host}:${LOCAL_STACK.redisMain.port}`,
  redisAuxUrl: `redis://${LOCAL_STACK.host}:${LOCAL_STACK.redisAux.port}`,
  /** One seed of the cluster mode's Redis Cluster (with TICKS_REDIS_CLUSTER=true). */
  redisClusterUrl: `redis://${LOCAL_STACK.host}:${LOCAL_STACK.redisCluster.firstPort}`,
  cassandraContactPoints: `${LOCAL_STACK.host}:${LOCAL_STACK.cassandra.port}`,
} as const;

/** An integer that keeps every port within 1024–65535 (the highest base port is 19093). */
export function stackPortOffset(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || 16379 + n < 1024 || 19093 + n > 65535)
    throw new Error(
      `TICKS_STACK_PORT_OFFSET=${raw} is not a usable port offset: give an integer that keeps ` +
        'the stack ports (16379–19093) within 1024–65535, e.g. 10100',
    );
  return n;
}
