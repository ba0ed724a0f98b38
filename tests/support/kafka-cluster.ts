import {
  KAFKA_CLUSTER_NAMES,
  KAFKA_CLUSTER_OFFSETS_PARTITIONS,
  kafkaClusterNodes,
} from '../../scripts/stack/kafka-cluster';
import type { KafkaServer } from '../../scripts/stack/kafka';
import { waitForExit } from '../../scripts/stack/proc';
import { ensureStackUp, formatFailure, stopServers, StackUpError } from '../../scripts/stack/stack';
import type { KafkaClient } from '../../runtime/kafka/kafka-client';

/** Java's String.hashCode, which Kafka places a consumer group by. */
function javaHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/**
 * The stack's 3-broker cluster (scripts/stack/kafka-cluster.ts) for a test: started if it does
 * not run (and then stopped by down()), with brokers to SIGKILL and start again.
 */
export class TestKafkaCluster {
  private constructor(
    private readonly nodes: KafkaServer[],
    private readonly started: string[],
  ) {}

  /** Starts the nodes that are not running and waits until all are healthy. */
  static async up(): Promise<TestKafkaCluster> {
    try {
      const { started, results } = await ensureStackUp({ servers: KAFKA_CLUSTER_NAMES });
      const shared = results.filter((r) => r.outcome === 'shared').map((r) => r.name);
      if (shared.length > 0)
        throw new Error(
          `${shared.join(', ')} run from another checkout: this test kills brokers, and only ` +
            `kills its own — stop that cluster (npm run stack:down there) and run again`,
        );
      return new TestKafkaCluster(kafkaClusterNodes(), started);
    } catch (err) {
      if (err instanceof StackUpError) {
        await stopServers(err.started);
        throw new Error(formatFailure(err), { cause: err });
      }
      throw err;
    }
  }

  /** Stops the nodes up() started; a cluster that ran before is left running. */
  async down(): Promise<void> {
    await stopServers(this.started);
  }

  node(nodeId: number): KafkaServer {
    const node = this.nodes.find((n) => n.node.nodeId === nodeId);
    if (!node) throw new Error(`no broker ${nodeId} in the cluster`);
    return node;
  }

  /** SIGKILL: the broker dies at once, with whatever it had not written to disk. */
  async kill(nodeId: number): Promise<void> {
    const node = this.node(nodeId);
    const pid = node.ourPid();
    if (pid === undefined) throw new Error(`broker ${nodeId} (${node.name}) is not running`);
    process.kill(pid, 'SIGKILL');
    if (!(await waitForExit(pid, 10_000))) throw new Error(`broker ${nodeId} outlived SIGKILL`);
  }

  /** Starts a broker again and waits until it has rejoined the cluster. */
  async restart(nodeId: number): Promise<void> {
    const node = this.node(nodeId);
    await node.waitUntilHealthy(await node.start());
  }

  isRunning(nodeId: number): boolean {
    return this.node(nodeId).ourPid() !== undefined;
  }

  /**
   * The broker coordinating a consumer group: the leader of its __consumer_offsets partition,
   * abs(hashCode(groupId)) % partitions (Kafka's placement).
   */
  static async coordinatorOf(kafka: KafkaClient, groupId: string): Promise<number> {
    const partition = (javaHashCode(groupId) & 0x7fffffff) % KAFKA_CLUSTER_OFFSETS_PARTITIONS;
    const replicas = await kafka.withAdmin((a) => a.partitionReplicas(['__consumer_offsets']));
    const leader = replicas.get('__consumer_offsets')?.find((p) => p.partition === partition);
    if (!leader) throw new Error(`__consumer_offsets partition ${partition} not found`);
    return leader.leader;
  }

  /** Partitions of the topics whose in-sync replicas are fewer than their replicas. */
  static async underReplicated(kafka: KafkaClient, topics: string[]): Promise<string[]> {
    const replicas = await kafka.withAdmin((a) => a.partitionReplicas(topics));
    return [...replicas].flatMap(([topic, partitions]) =>
      partitions
        .filter((p) => p.isr.length < p.replicas.length)
        .map((p) => `${topic}/${p.partition} isr ${p.isr.join(',')} of ${p.replicas.join(',')}`),
    );
  }
}
