import type { ChainableCommander, Cluster } from 'ioredis';
import { isCluster, type RedisClient } from './connect';
import { keySlot } from './slots';
import { takesKeyCount } from './script-loader';

export class RedisCommandError extends Error {
  override readonly name = 'RedisCommandError';
  readonly retriable = true;
}

/** A pipeline's replies as ioredis gives them: [error, reply] per command, in queued order. */
type Replies = Array<[Error | null, unknown]>;

/**
 * A pipeline on either kind of Redis: one round trip to a single server; on a Redis Cluster, one
 * pipeline per node (its slots), sent together, with the replies put back in queued order. A
 * MULTI … EXEC stays whole (its keys are in one slot: the stores write one hash tag per
 * transaction). Commands are queued as on any ioredis pipeline, scripts included.
 */
export function pipelineOf(redis: RedisClient, commands?: unknown[][]): ChainableCommander {
  if (!isCluster(redis)) return redis.pipeline(commands);
  const split = new SplitPipeline(redis);
  for (const [name, ...args] of commands ?? []) split.queue(String(name), args);
  return split.proxy;
}

/** Runs a pipeline (one round trip) and returns its replies, throwing the first error. */
export async function execPipeline(pipe: ChainableCommander): Promise<unknown[]> {
  // Nothing queued: no round trip (steps often have nothing for some of their pipelines).
  if ((pipe as { length?: number }).length === 0) return [];
  const replies = (await pipe.exec()) ?? [];
  return replies.map(([err, reply]) => {
    if (err) throw new RedisCommandError(`Redis command failed: ${err.message}`, { cause: err });
    return reply;
  });
}

/** One call queued on a pipeline, and how to read its reply. */
export interface Queued<T> {
  queue(pipe: ChainableCommander): void;
  parse(reply: unknown): T;
}

/** Sends every call in one pipeline and parses the replies in order. */
export async function runQueued<T>(redis: RedisClient, calls: Queued<T>[]): Promise<T[]> {
  if (calls.length === 0) return [];
  const pipe = pipelineOf(redis);
  for (const call of calls) call.queue(pipe);
  const replies = await execPipeline(pipe);
  return replies.map((reply, i) => calls[i]!.parse(reply));
}

interface Call {
  name: string;
  args: unknown[];
}

/** How long a part waits for its master's replica before it fails (and its step is redone). */
const REPLICA_WAIT_MS = 2000;

/** The error for a part whose WAIT says no replica has its writes, else undefined. */
function unreplicated(reply: [Error | null, unknown] | undefined): Error | undefined {
  if (!reply) return new Error('no reply to WAIT');
  if (reply[0]) return reply[0];
  if (Number(reply[1]) >= 1) return undefined;
  return new Error(
    `no replica of a Redis Cluster master confirmed this connection's writes to it within ${REPLICA_WAIT_MS} ms: a failover now could lose them (the step is redone)`,
  );
}

/**
 * Whether writes a master acknowledged but no replica confirmed are safe: the slot's nodes as
 * the map now shows them (`now`, master first, ';'-separated) are the master they were sent to
 * (`sentTo`'s first) and no replica. After a failover the map names the promoted replica, which
 * may lack them: they are not.
 */
export function standsAlone(sentTo: string, now: string): boolean {
  return now === sentTo.split(';')[0];
}

/**
 * Commands of a pipeline that name no key (the rest name theirs first, scripts included; a
 * script of any number of keys after their count).
 */
const KEYLESS = new Set(['multi', 'exec', 'discard', 'ping', 'time', 'info']);

/**
 * Records a pipeline's commands for a Redis Cluster and sends them split by node. ioredis' own
 * cluster pipeline refuses commands of slots served by different nodes; a step's writes and
 * reads span many conversations, users and partitions, so the split is done here, once for
 * every store. Each part is an ioredis cluster pipeline: it follows MOVED and ASK itself.
 */
export class SplitPipeline {
  private readonly calls: Call[] = [];
  readonly proxy: ChainableCommander;

  constructor(private readonly cluster: Cluster) {
    // Every property but these is a command: queue it, and return the pipeline for chaining.
    this.proxy = new Proxy(this, {
      get: (target, property) => {
        if (property === 'exec') return () => target.exec();
        if (property === 'length') return target.calls.length;
        if (typeof property !== 'string' || property === 'then') return undefined;
        return (...args: unknown[]) => {
          target.queue(property, args);
          return target.proxy;
        };
      },
    }) as unknown as ChainableCommander;
  }

  queue(name: string, args: unknown[]): void {
    this.calls.push({ name, args });
  }

  async exec(): Promise<Replies> {
    const byNode = new Map<string, number[]>();
    for (const unit of this.units()) {
      const node = this.nodeOf(unit);
      const indexes = byNode.get(node) ?? [];
      indexes.push(...unit);
      byNode.set(node, indexes);
    }
    const replies: Replies = new Array(this.calls.length);
    // Parts whose WAIT no replica answered: their replies, kept until the slot map is read anew.
    const unconfirmed: Array<{ indexes: number[]; part: Replies; sentTo: string }> = [];
    await Promise.all(
      [...byNode].map(async ([node, indexes]) => {
        const pipe = this.cluster.pipeline() as unknown as Record<
          string,
          (...a: unknown[]) => void
        >;
        for (const i of indexes) pipe[this.calls[i]!.name]!(...this.calls[i]!.args);
        const replicated = this.needsReplica(node);
        if (replicated) pipe.wait!(1, REPLICA_WAIT_MS);
        const part = await (pipe as unknown as ChainableCommander).exec().then(
          (r) => r ?? [],
          // The whole part failed (the slot map changed under it): each of its commands did.
          (err: Error) => indexes.map((): [Error, null] => [err, null]),
        );
        const error = replicated && unreplicated(part.at(-1));
        if (error) unconfirmed.push({ indexes, part, sentTo: node });
        indexes.forEach(
          (i, j) =>
            (replies[i] = error ? [error, null] : (part[j] ?? [new Error('no reply'), null])),
        );
      }),
    );
    // The slot map moved (a failover) or names a replica that did not answer (it died, or was
    // promoted): read it anew. ioredis refreshes its map on a redirected single command, not on
    // a pipeline's, and never on a replica's death; a connection that sends only split
    // pipelines (the partition leases' own) kept sending to the old master, or waiting for a
    // replica that is gone, for good.
    const moved = replies.some(([err]) => err && /^(MOVED|CLUSTERDOWN)\b/.test(err.message));
    if (moved || unconfirmed.length > 0) {
      await new Promise<unknown>((done) => this.cluster.refreshSlotsCache(done));
      // A part stands, as one never waited for, only if the master it ran on now serves its
      // slot alone (its replica died). Otherwise it keeps its error and its step is redone: a
      // replica still shown may not have it, and a promoted one — the map naming another
      // master — did not get what the dead master acknowledged.
      for (const { indexes, part, sentTo } of unconfirmed) {
        if (!standsAlone(sentTo, this.nodeOf(indexes))) continue;
        indexes.forEach((i, j) => (replies[i] = part[j] ?? [new Error('no reply'), null]));
      }
    }
    return replies;
  }

  /**
   * Every part sent to a master that has a replica ends with WAIT 1: the processors commit Kafka
   * offsets after their writes, and a master killed before its replica got a write would lose it
   * in the failover while the offset says it is applied. Reads wait too: a step redone after a
   * failed flush reloads what that flush left on the master, and must not commit on it before the
   * replica has it (WAIT covers this connection's earlier writes; with none pending it answers at
   * once). A master the slot map shows without a replica (its replica was promoted) is not
   * waited for.
   */
  private needsReplica(nodes: string): boolean {
    return nodes.split(';').length >= 2;
  }

  /** The calls in units sent together: a MULTI … EXEC, or one command. */
  private units(): number[][] {
    const units: number[][] = [];
    let transaction: number[] | undefined;
    this.calls.forEach((call, i) => {
      const name = call.name.toLowerCase();
      if (name === 'multi') transaction = [];
      if (transaction) transaction.push(i);
      else units.push([i]);
      if (name === 'exec' && transaction) {
        units.push(transaction);
        transaction = undefined;
      }
    });
    if (transaction) units.push(transaction);
    return units;
  }

  /** The nodes serving the unit's slot, as ioredis groups slots (any node for a keyless one). */
  private nodeOf(unit: number[]): string {
    const keyed = unit.map((i) => this.calls[i]!).find((c) => !KEYLESS.has(c.name.toLowerCase()));
    if (!keyed) return 'any';
    const slot = keySlot(String(keyed.args[takesKeyCount(keyed.name) ? 1 : 0]));
    return this.cluster.slots[slot]?.join(';') ?? `slot ${slot}`;
  }
}
