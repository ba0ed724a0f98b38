/**
 * Where the local stack listens. The stack scripts bind these ports and the configuration's
 * defaults point at them, so both read them from here. Ports are ours (not 6379, 9092, 9042,
 * 8081) so that a developer's own servers are never touched.
 */
export const LOCAL_STACK = {
  host: '127.0.0.1',
  kafka: { port: 19092, controllerPort: 19093 },
  registry: { port: 18081, managementPort: 18082, ccompatPath: '/apis/ccompat/v7' },
  redisMain: { port: 16379 },
  redisAux: { port: 16380 },
  /**
   * `stack:up -- --redis-cluster`: 3 masters and 3 replicas on consecutive ports from this one;
   * each node's cluster bus on its port + busOffset (not Redis' +10000: ours stay together).
   */
  redisCluster: { firstPort: 17381, nodes: 6, replicasPerMaster: 1, busOffset: 100 },
  cassandra: { port: 19042, storagePort: 17000, jmxPort: 17199, datacenter: 'datacenter1' },
} as const;

export const localUrls = {
  kafkaBrokers: `${LOCAL_STACK.host}:${LOCAL_STACK.kafka.port}`,
  registryUrl: `http://${LOCAL_STACK.host}:${LOCAL_STACK.registry.port}${LOCAL_STACK.registry.ccompatPath}`,
  redisMainUrl: `redis://${LOCAL_STACK.host}:${LOCAL_STACK.redisMain.port}`,
  redisAuxUrl: `redis://${LOCAL_STACK.host}:${LOCAL_STACK.redisAux.port}`,
  /** One seed of the cluster mode's Redis Cluster (with TICKS_REDIS_CLUSTER=true). */
  redisClusterUrl: `redis://${LOCAL_STACK.host}:${LOCAL_STACK.redisCluster.firstPort}`,
  cassandraContactPoints: `${LOCAL_STACK.host}:${LOCAL_STACK.cassandra.port}`,
} as const;
