/**
 * The optional 3-broker KRaft cluster (`npm run stack:up -- --kafka-brokers 3`): three combined
 * broker + controller nodes on their own ports (config/local-stack.ts), beside the stack's single
 * broker, as a production cluster is set up: every topic replicated 3 times, and a write
 * acknowledged (acks=all, what ticks' producers ask for) once 2 replicas hold it, so one broker
 * can die without losing an acknowledged record or stopping writes. Small heaps: three JVMs share
 * the machine with the rest of the stack.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LOCAL_STACK, localUrls } from '../../config/local-stack';
import { KafkaServer, newClusterId, type KafkaNode } from './kafka';
import { dataDir } from './paths';

export const KAFKA_CLUSTER_SIZE = LOCAL_STACK.kafkaCluster.ports.length;
/** What topics on the cluster are created with: TICKS_REPLICATION_FACTOR. */
export const KAFKA_CLUSTER_REPLICATION = { factor: 3, minInsync: 2 } as const;
/** The variables that point ticks at the cluster. */
export const KAFKA_CLUSTER_ENV = {
  TICKS_KAFKA_BROKERS: localUrls.kafkaClusterBrokers,
  TICKS_REPLICATION_FACTOR: String(KAFKA_CLUSTER_REPLICATION.factor),
} as const;
/**
 * Partitions of __consumer_offsets: fewer than the default 50, as three small JVMs on two cores
 * create them at once. Tests use it to find a group's coordinator.
 */
export const KAFKA_CLUSTER_OFFSETS_PARTITIONS = 12;

/**
 * Every node formats its log directory with the same cluster id, which the first format writes
 * to the cluster's data directory (deleted with the nodes' data by `down --purge`).
 */
function sharedClusterId(): string {
  const file = path.join(dataDir('kafka-cluster'), 'cluster.id');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const id = newClusterId();
    fs.writeFileSync(file, `${id}\n`);
    return id;
  }
}

export function kafkaClusterNodeName(index: number): string {
  return `kafka-${index + 1}`;
}

export const KAFKA_CLUSTER_NAMES = LOCAL_STACK.kafkaCluster.ports.map((_, i) =>
  kafkaClusterNodeName(i),
);

export function kafkaClusterNodes(): KafkaServer[] {
  const { host, kafkaCluster } = LOCAL_STACK;
  const voters = kafkaCluster.controllerPorts.map((p, i) => `${i + 1}@${host}:${p}`).join(',');
  return kafkaCluster.ports.map((port, i) => {
    const node: KafkaNode = {
      name: kafkaClusterNodeName(i),
      nodeId: i + 1,
      port,
      controllerPort: kafkaCluster.controllerPorts[i]!,
      voters,
      replication: KAFKA_CLUSTER_REPLICATION,
      heap: ['-Xms256m', '-Xmx512m'],
      clusterId: sharedClusterId,
      // A killed broker is fenced (its partitions get new leaders) after this long without a
      // heartbeat: sooner than the default 9 s, so that producers' sends (10 s deadline) outlast it.
      extraProperties: [
        `offsets.topic.num.partitions=${KAFKA_CLUSTER_OFFSETS_PARTITIONS}`,
        'broker.session.timeout.ms=6000',
        'broker.heartbeat.interval.ms=1000',
        '',
      ].join('\n'),
      // Three JVMs formatting and starting at once on a small machine, and waiting for each other.
      startTimeoutMs: 120_000,
    };
    return new KafkaServer(node);
  });
}
