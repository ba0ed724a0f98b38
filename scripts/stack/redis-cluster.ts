/**
 * The stack's cluster mode (`npm run stack:up -- --redis-cluster`): a Redis Cluster of Debian's
 * redis-server, 3 masters and 3 replicas on our own ports, as the main and auxiliary Redis of
 * a production deployment are. Each node is a ManagedServer like main and aux (pid file, log,
 * AOF, stopped only if ours); the cluster is created once with `redis-cli --cluster create` and
 * its nodes.conf files keep it across `down`/`up`. Tests start their own on other ports.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { LOCAL_STACK } from '../../config/local-stack';
import { StackError } from './managed-server';
import { sleep } from './proc';
import { RedisServer } from './redis';

export interface ClusterLayout {
  /** Node i is `<name>-<i>`: its pid, log and data files. */
  name: string;
  firstPort: number;
  nodes: number;
  replicasPerMaster: number;
  /** A node's cluster bus listens on its port + busOffset. */
  busOffset: number;
  /** How long a silent master stays a master before its replica takes over. */
  nodeTimeoutMs: number;
}

export const LOCAL_CLUSTER: ClusterLayout = {
  name: 'redis-cluster',
  ...LOCAL_STACK.redisCluster,
  nodeTimeoutMs: 5000,
};

export class RedisClusterNode extends RedisServer {
  constructor(
    private readonly layout: ClusterLayout,
    index: number,
  ) {
    const port = layout.firstPort + index;
    super({ name: `${layout.name}-${index}`, title: `Redis Cluster node ${index}`, port });
    this.ports = [port, port + layout.busOffset];
  }

  override readonly ports: readonly number[];

  protected override extraArgs(dir: string): string[] {
    return [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      path.join(dir, 'nodes.conf'),
      '--cluster-node-timeout',
      String(this.layout.nodeTimeoutMs),
      '--cluster-port',
      String(this.port + this.layout.busOffset),
      // A master that is down makes its slots fail, not the whole cluster's.
      '--cluster-require-full-coverage',
      'no',
    ];
  }
}

export function clusterNodes(layout: ClusterLayout = LOCAL_CLUSTER): RedisClusterNode[] {
  return Array.from({ length: layout.nodes }, (_, i) => new RedisClusterNode(layout, i));
}

/** What CLUSTER INFO and CLUSTER NODES of one node say about the whole cluster. */
export interface ClusterView {
  state: string;
  slotsAssigned: number;
  knownNodes: number;
  /** Masters serving slots and replicas, as "host:port", from the node's CLUSTER NODES. */
  masters: string[];
  replicas: string[];
  /**
   * Replicas the slot map (CLUSTER SLOTS, what clients read) lists beside a master: a
   * replica appears there seconds after it joined, once its master's link is up and the cluster
   * has heard; clients wait only for the replicas it lists.
   */
  slotReplicas: number;
}

/** The cluster as one node sees it; throws if the node does not answer. */
export async function clusterView(port: number, timeoutMs = 3000): Promise<ClusterView> {
  const redis = new Redis({
    host: LOCAL_STACK.host,
    port,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const info = String(await redis.call('CLUSTER', 'INFO'));
    const field = (name: string) => new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1] ?? '';
    const nodes = String(await redis.call('CLUSTER', 'NODES'))
      .trim()
      .split('\n')
      .map((line) => line.split(' '));
    const slots = (await redis.call('CLUSTER', 'SLOTS')) as unknown[][];
    const address = (n: string[]) => n[1]!.split('@')[0]!;
    const alive = (n: string[]) => !/fail|noaddr|handshake/.test(n[2]!);
    return {
      state: field('cluster_state'),
      slotsAssigned: Number(field('cluster_slots_assigned')),
      knownNodes: Number(field('cluster_known_nodes')),
      masters: nodes
        .filter((n) => n[2]!.includes('master') && alive(n) && n.length > 8)
        .map(address),
      replicas: nodes.filter((n) => n[2]!.includes('slave') && alive(n)).map(address),
      // Each range of slots lists its master, then its replicas ([host, port, id]).
      slotReplicas: new Set(
        slots.flatMap((range) => (range.slice(3) as unknown[][]).map((n) => `${n[0]}:${n[1]}`)),
      ).size,
    };
  } finally {
    redis.disconnect();
  }
}

/**
 * Ready to serve: every slot assigned, state ok, as many masters and replicas as laid out, and
 * every replica in the slot map. Before that, a client reads a map without replicas and does not
 * wait for them: a failover then loses what it wrote.
 */
function isFormed(view: ClusterView, layout: ClusterLayout): boolean {
  const masters = layout.nodes / (layout.replicasPerMaster + 1);
  return (
    view.state === 'ok' &&
    view.slotsAssigned === 16384 &&
    view.masters.length === masters &&
    view.replicas.length === layout.nodes - masters &&
    view.slotReplicas === layout.nodes - masters
  );
}

/**
 * Joins the running nodes into one cluster unless they already form one (`redis-cli --cluster
 * create … --cluster-replicas N --cluster-yes`), then waits until every node sees it whole.
 */
export async function formCluster(
  layout: ClusterLayout = LOCAL_CLUSTER,
  timeoutMs = 60_000,
): Promise<'created' | 'existing'> {
  const ports = Array.from({ length: layout.nodes }, (_, i) => layout.firstPort + i);
  const first = await clusterView(ports[0]!);
  let outcome: 'created' | 'existing' = 'existing';
  if (first.slotsAssigned === 0 && first.knownNodes === 1) {
    const create = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `${LOCAL_STACK.host}:${p}`),
        '--cluster-replicas',
        String(layout.replicasPerMaster),
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: timeoutMs },
    );
    if (create.status !== 0)
      throw new StackError(
        `redis-cli --cluster create failed (${create.error?.message ?? `exit code ${create.status}`}): ` +
          `${(create.stdout + create.stderr).trim().split('\n').slice(-10).join('\n  ')}\n` +
          `  Fix: \`npm run stack:down\`, then delete .stack/data/${layout.name}-* (their nodes.conf) and try again`,
      );
    outcome = 'created';
  }
  const deadline = Date.now() + timeoutMs;
  let views: ClusterView[] = [];
  while (Date.now() < deadline) {
    views = await Promise.all(ports.map((p) => clusterView(p).catch(() => undefined))).then((all) =>
      all.filter((v): v is ClusterView => v !== undefined),
    );
    if (views.length === ports.length && views.every((v) => isFormed(v, layout))) return outcome;
    await sleep(250);
  }
  throw new StackError(
    `the Redis Cluster on ports ${ports[0]}–${ports.at(-1)} did not become whole within ${timeoutMs / 1000}s ` +
      `(${views.map((v) => `${v.state}, ${v.masters.length} masters, ${v.replicas.length} replicas`).join('; ') || 'no node answered'})`,
  );
}

/** One line for `stack:status`: the cluster's state as its first answering node sees it. */
export async function describeCluster(layout: ClusterLayout = LOCAL_CLUSTER): Promise<string> {
  for (let i = 0; i < layout.nodes; i++) {
    const view = await clusterView(layout.firstPort + i).catch(() => undefined);
    if (view)
      return `cluster_state:${view.state}, ${view.slotsAssigned} slots, ${view.masters.length} masters, ${view.replicas.length} replicas`;
  }
  return 'no node answers';
}
