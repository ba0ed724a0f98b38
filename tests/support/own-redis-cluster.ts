import * as fs from 'node:fs';
import { Redis } from 'ioredis';
import { LOCAL_STACK } from '../../config/local-stack';
import { dataDir } from '../../scripts/stack/paths';
import { sleep } from '../../scripts/stack/proc';
import {
  clusterNodes,
  clusterView,
  formCluster,
  type ClusterLayout,
  type RedisClusterNode,
} from '../../scripts/stack/redis-cluster';

/**
 * A Redis Cluster a test starts and stops itself (3 masters + 3 replicas of the stack's
 * cluster mode, on ports of its own, empty at every start), so that it can kill a master
 * without touching a developer's stack, and so that `npm test` always runs on one.
 */
export class OwnRedisCluster {
  readonly nodes: RedisClusterNode[];

  constructor(readonly layout: ClusterLayout) {
    this.nodes = clusterNodes(layout);
  }

  /** A seed URL, as TICKS_REDIS_URL takes it with TICKS_REDIS_CLUSTER=true. */
  get url(): string {
    return `redis://${LOCAL_STACK.host}:${this.layout.firstPort}`;
  }

  async start(): Promise<void> {
    await this.stop();
    for (const node of this.nodes) fs.rmSync(dataDir(node.name), { recursive: true, force: true });
    await Promise.all(this.nodes.map(async (n) => n.waitUntilHealthy(await n.start())));
    await formCluster(this.layout);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }

  /** The node listening on `port`. */
  node(port: number): RedisClusterNode {
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no node of this cluster listens on ${port}`);
    return node;
  }

  /** The master serving `slot`, and its replica (as "host:port" ports). */
  async masterAndReplicaOf(slot: number): Promise<{ master: number; replica: number }> {
    const lines = String(await this.call(this.layout.firstPort, 'CLUSTER', 'NODES'))
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    const port = (n: string[]) => Number(n[1]!.split('@')[0]!.split(':')[1]);
    const master = lines.find(
      (n) =>
        n[2]!.includes('master') &&
        n.slice(8).some((range) => {
          const [from, to = from] = range.split('-').map(Number) as [number, number?];
          return slot >= from && slot <= to!;
        }),
    );
    if (!master) throw new Error(`no master serves slot ${slot}`);
    const replica = lines.find((n) => n[2]!.includes('slave') && n[3] === master[0]);
    if (!replica) throw new Error(`the master of slot ${slot} has no replica`);
    return { master: port(master), replica: port(replica) };
  }

  /**
   * SIGKILLs the master on `masterPort` and promotes `replicaPort` (CLUSTER FAILOVER FORCE: the
   * master cannot agree, it is dead); resolves once every live node sees the cluster whole
   * again with the replica as master.
   */
  async killMasterAndPromote(masterPort: number, replicaPort: number): Promise<void> {
    this.kill(masterPort);
    await this.call(replicaPort, 'CLUSTER', 'FAILOVER', 'FORCE');
    const promoted = `${LOCAL_STACK.host}:${replicaPort}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const live = this.nodes.filter((n) => n.port !== masterPort);
      const views = await Promise.all(live.map((n) => clusterView(n.port).catch(() => undefined)));
      if (views.every((v) => v?.state === 'ok' && v.masters.includes(promoted))) return;
      if (Date.now() > deadline)
        throw new Error(`the replica on ${replicaPort} did not take over within 30 s`);
      await sleep(200);
    }
  }

  /** SIGKILLs the node on `port` (nothing else: the cluster notices it as it would). */
  kill(port: number): void {
    const node = this.node(port);
    const pid = node.ourPid();
    if (pid === undefined) throw new Error(`${node.name} is not running`);
    process.kill(pid, 'SIGKILL');
  }

  /** Starts a killed node again: it rejoins (from its nodes.conf) as a replica. */
  async restart(port: number): Promise<void> {
    const node = this.node(port);
    await node.waitUntilHealthy(await node.start());
  }

  private async call(port: number, ...args: string[]): Promise<unknown> {
    const redis = new Redis({ host: LOCAL_STACK.host, port, lazyConnect: true });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return await redis.call(args[0]!, ...args.slice(1));
    } finally {
      redis.disconnect();
    }
  }
}
