/**
 * The stack as a whole, for the CLI, the jest global setup and the run command:
 * - ensureStackUp(): start whatever is not running, wait until all are healthy;
 * - stopServers(names): stop those (ours only);
 * - stackStatus(): the state of each server.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  allServers,
  knownServers,
  optionalServers,
  serversNamed,
  type StackModes,
} from './servers';
import { localUrls } from '../../config/local-stack';
import { describeCluster, formCluster, LOCAL_CLUSTER } from './redis-cluster';
import { ManagedServer, StackError, type ServerState, type StartHandle } from './managed-server';
import { confDir, dataRoot } from './paths';
import { Progress } from './progress';

export interface ServerResult {
  name: string;
  address: string;
  /** started | already running (ours) | shared (another process's, healthy: used as it is) | failed */
  outcome: 'started' | 'already running' | 'shared' | 'failed';
  pid?: number;
  seconds?: number;
  error?: StackError;
}

/** Thrown by ensureStackUp when a server failed; `started` lists what this call did start. */
export class StackUpError extends StackError {
  constructor(
    message: string,
    readonly started: string[],
    readonly results: ServerResult[],
  ) {
    super(message);
    this.name = 'StackUpError';
  }
}

export interface UpOptions extends StackModes {
  /** Default: all servers (of the modes asked for). */
  servers?: readonly string[];
  progress?: Progress;
}

/**
 * Starts every server that is not running and waits until all are healthy. Servers that fail are
 * stopped again (with their log's tail in the error); the others are left running and listed in
 * the error's `started`, so that the caller can decide.
 */
export async function ensureStackUp(
  options: UpOptions = {},
): Promise<{ started: string[]; results: ServerResult[] }> {
  const servers = options.servers ? serversNamed(options.servers) : allServers(options);
  const progress = options.progress ?? new Progress();
  try {
    // A healthy server another checkout (or docker compose) started is used as it is.
    const shared = new Set<ManagedServer>();
    await Promise.all(
      servers.map(async (s) => {
        if (await s.servedElsewhere()) shared.add(s);
      }),
    );
    const toStart = servers.filter((s) => s.ourPid() === undefined && !shared.has(s));
    // Check every tool first, so that one run lists every missing tool.
    const problems = toStart.flatMap((s) => {
      try {
        s.preflight();
        return [];
      } catch (err) {
        return [err instanceof Error ? err.message : String(err)];
      }
    });
    // Deduplicated: both Redis servers report the same missing binary.
    if (problems.length > 0) throw new StackError([...new Set(problems)].join('\n'));
    // Sequential: concurrent Maven runs would race on the same ~/.m2 repository.
    for (const server of toStart) await server.fetch(progress);

    const results = await Promise.all(
      servers.map((s) => (shared.has(s) ? useShared(s, progress) : bringUp(s, progress))),
    );
    const started = results.filter((r) => r.outcome === 'started').map((r) => r.name);
    const failed = results.filter((r) => r.outcome === 'failed');
    if (options.redisCluster && failed.length === 0) await formClusterStep(progress, results);
    if (failed.length > 0) {
      const message = failed.map((r) => formatFailure(r.error as StackError)).join('\n\n');
      throw new StackUpError(message, started, results);
    }
    return { started, results };
  } finally {
    progress.stop();
  }
}

/** For commands that run on the local stack: start what is missing, and say what was started. */
export async function startMissingServers(): Promise<void> {
  const { started } = await ensureStackUp();
  if (started.length > 0) console.error(`started: ${started.join(', ')}`);
}

/** Joins the cluster nodes into one Redis Cluster (once) and waits until it is whole. */
async function formClusterStep(progress: Progress, results: ServerResult[]): Promise<void> {
  progress.begin('redis-cluster');
  try {
    const outcome = await formCluster();
    progress.done(
      'redis-cluster',
      `✓ Redis Cluster ${outcome === 'created' ? 'created' : 'whole'}`,
    );
  } catch (err) {
    progress.done('redis-cluster', '✗ Redis Cluster not formed');
    const started = results.filter((r) => r.outcome === 'started').map((r) => r.name);
    throw new StackUpError(err instanceof Error ? err.message : String(err), started, results);
  }
}

function useShared(server: ManagedServer, progress: Progress): ServerResult {
  progress.begin(server.name);
  progress.done(server.name, `✓ ${server.name} served by another process (healthy): used as it is`);
  return { name: server.name, address: server.address, outcome: 'shared' };
}

async function bringUp(server: ManagedServer, progress: Progress): Promise<ServerResult> {
  const base = { name: server.name, address: server.address };
  const runningPid = server.ourPid();
  let handle: StartHandle | undefined;
  const task = server.name;
  progress.begin(task);
  try {
    if (runningPid === undefined) handle = await server.start();
    // Also for one already running: it may still be starting (a concurrent or interrupted `up`).
    await server.waitUntilHealthy(handle);
    const seconds = handle ? (Date.now() - handle.startedAt) / 1000 : undefined;
    progress.done(
      task,
      handle
        ? `✓ ${server.name} healthy in ${seconds?.toFixed(1)}s`
        : `✓ ${server.name} already running (pid ${runningPid})`,
    );
    return {
      ...base,
      outcome: handle ? 'started' : 'already running',
      pid: handle?.pid ?? runningPid,
      seconds,
    };
  } catch (err) {
    const error = err instanceof StackError ? err : new StackError(String(err));
    progress.done(task, `✗ ${server.name} failed`);
    // Stop what we started of it; a server that was running before this call is not ours to stop.
    if (handle) await server.stop().catch(() => undefined);
    return { ...base, outcome: 'failed', error };
  }
}

export function formatFailure(error: StackError): string {
  if (error.logTail.length === 0) return error.message;
  const [first, ...rest] = error.message.split('\n');
  return [
    first,
    `  --- last ${error.logTail.length} lines of the log ---`,
    ...error.logTail.map((l) => `  | ${l}`),
    ...rest,
  ].join('\n');
}

export interface StoppedServer {
  name: string;
  pid?: number;
}

/** Stops the named servers (in parallel), only processes that are provably ours. */
export async function stopServers(names: readonly string[]): Promise<StoppedServer[]> {
  return Promise.all(serversNamed(names).map(async (s) => ({ name: s.name, pid: await s.stop() })));
}

/** Stops the stack, and those optional servers that run. */
export async function stopAll(): Promise<StoppedServer[]> {
  return stopServers(knownServers().map((s) => s.name));
}

/** Deletes server state (.stack/data and generated config), keeping the download cache. */
export function purgeData(): void {
  fs.rmSync(dataRoot, { recursive: true, force: true });
  fs.rmSync(path.dirname(confDir('any')), { recursive: true, force: true });
}

export interface ServerStatus {
  name: string;
  address: string;
  state: ServerState;
  /** Shown instead of the state's description (the Redis Cluster's own state). */
  note?: string;
}

/** Each server's state; the cluster mode's nodes when asked for, or when one of them runs. */
export async function stackStatus(modes: StackModes = {}): Promise<ServerStatus[]> {
  const clusterRuns = allServers({ redisCluster: true }).some(
    (s) => s.name.startsWith(`${LOCAL_CLUSTER.name}-`) && s.ourPid() !== undefined,
  );
  const servers = allServers({ redisCluster: modes.redisCluster || clusterRuns });
  const statuses: ServerStatus[] = await Promise.all(
    servers.map(async (s) => ({ name: s.name, address: s.address, state: await s.state() })),
  );
  if (modes.redisCluster || clusterRuns) {
    const detail = await describeCluster();
    statuses.push({
      name: LOCAL_CLUSTER.name,
      address: `${localUrls.redisClusterUrl} (seed; ${LOCAL_CLUSTER.nodes} nodes)`,
      state: detail.startsWith('cluster_state:ok') ? { kind: 'healthy' } : { kind: 'down' },
      note: detail,
    });
  }
  // The optional Kafka cluster's nodes, while they run.
  const optional = await Promise.all(
    optionalServers().map(async (s) => ({
      name: s.name,
      address: s.address,
      state: await s.state(),
    })),
  );
  return [...statuses, ...optional.filter((s) => s.state.kind !== 'down')];
}

export function describeState(state: ServerState): string {
  switch (state.kind) {
    case 'healthy':
      return state.pid === undefined
        ? 'healthy (not started by this stack)'
        : `healthy (pid ${state.pid})`;
    case 'unhealthy':
      return `running, not healthy (pid ${state.pid})`;
    case 'down':
      return 'down';
    case 'foreign':
      return `down: ${state.detail}`;
  }
}
