/**
 * Where the local stack listens. The stack scripts bind these ports and the configuration's
 * defaults point at them, so both read them from here. Ports are ours (not 6379, 9092, 9042,
 * 8081) so that a developer's own servers are never touched.
 */
export const LOCAL_STACK = {
  host: '127.0.0.1',
  kafka: { port: 19092, controllerPort: 19093 },
  /** The optional 3-broker cluster (`npm run stack:up -- --kafka-brokers 3`): node i, i from 0. */
  kafkaCluster: { ports: [19192, 19193, 19194], controllerPorts: [19195, 19196, 19197] },
  registry: { port: 18081, managementPort: 18082, ccompatPath: '/apis/ccompat/v7' },
  redisMain: { port: 16379 },
  redisAux: { port: 16380 },
  cassandra: { port: 19042, storagePort: 17000, jmxPort: 17199, datacenter: 'datacenter1' },
} as const;

export const localUrls = {
  kafkaBrokers: `${LOCAL_STACK.host}:${LOCAL_STACK.kafka.port}`,
  kafkaClusterBrokers: LOCAL_STACK.kafkaCluster.ports
    .map((p) => `${LOCAL_STACK.host}:${p}`)
    .join(','),
  registryUrl: `http://${LOCAL_STACK.host}:${LOCAL_STACK.registry.port}${LOCAL_STACK.registry.ccompatPath}`,
  redisMainUrl: `redis://${LOCAL_STACK.host}:${LOCAL_STACK.redisMain.port}`,
  redisAuxUrl: `redis://${LOCAL_STACK.host}:${LOCAL_STACK.redisAux.port}`,
  cassandraContactPoints: `${LOCAL_STACK.host}:${LOCAL_STACK.cassandra.port}`,
} as const;
