import type { Result } from 'ioredis';
import { isCluster, type RedisClient } from './connect';
import type { WriteFence } from './partition-lease';
import { FencedWriteQueue, leaseLost } from './fenced-write-queue';
import { execPipeline, pipelineOf } from './pipeline';
import { defineScripts } from './script-loader';
import { keySlot } from './slots';

/** One Redis command as sent: name, then arguments (the key first, but for MULTI/EXEC). */
export type RedisCommand = [command: string, ...args: string[]];

/**
 * Sends commands in one round trip and returns their replies. With a `fence`, they go as one
 * apply-writes call that runs them only while the partition's lease names the fence's owner, in
 * Redis, atomically with the check: a writer that checked its lease and then stalled (GC,
 * SIGSTOP, a send buffered until it woke) past it writes nothing once a new owner may have
 * written (a LeaseLostError). A mid-step write that checks its lease client-side only can land
 * late.
 *
 * On a Redis Cluster a script reaches one slot: commands of the lease's slot (the partition's
 * own `{p:N}` keys) are fenced there too; commands of other slots (per-user keys) go as a
 * pipeline, fenced only by the caller's own check.
 */
export async function sendFenced(
  redis: RedisClient,
  commands: readonly RedisCommand[],
  fence?: WriteFence,
): Promise<unknown[]> {
  if (commands.length === 0) return [];
  if (!fence || !fenceable(redis, commands, fence))
    return execPipeline(pipelineOf(redis, commands as RedisCommand[]));
  // On a single Redis, with the other fenced writes of this turn of the event loop.
  if (!isCluster(redis)) return queueOf(redis).applyForReplies(fence, JSON.stringify(commands));
  defineScripts(redis);
  // As a pipeline of one call: on a Redis Cluster it then waits for a replica as every write
  // does (pipeline.ts), before the step that sent it may commit.
  const pipe = pipelineOf(redis);
  pipe.applyWrites(fence.leaseKey, JSON.stringify(commands), fence.owner, 'replies');
  try {
    const [replies] = await execPipeline(pipe);
    return replies as unknown[];
  } catch (err) {
    throw leaseLost(err) ?? err;
  }
}

/** One queue per Redis client: the write-behinds of a turn of the event loop go together. */
const queues = new WeakMap<RedisClient, FencedWriteQueue>();

/**
 * Runs JSON-encoded commands (`[[command, key, arg, …], …]`) under `fence`, with the others
 * queued in the same turn of the event loop (FencedWriteQueue); resolves with their number.
 */
export function applyFenced(redis: RedisClient, fence: WriteFence, json: string): Promise<number> {
  return queueOf(redis).apply(fence, json);
}

function queueOf(redis: RedisClient): FencedWriteQueue {
  let queue = queues.get(redis);
  if (!queue) queues.set(redis, (queue = new FencedWriteQueue(redis)));
  return queue;
}

/** Whether the script can run the commands and the lease check together (one slot on a cluster). */
function fenceable(
  redis: RedisClient,
  commands: readonly RedisCommand[],
  fence: WriteFence,
): boolean {
  if (!isCluster(redis)) return true;
  const slot = keySlot(fence.leaseKey);
  return commands.every((c) => c[1] === undefined || keySlot(c[1]) === slot);
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    applyWrites(
      key: string,
      commands: string,
      owner?: string,
      replies?: 'replies',
    ): Result<number | unknown[], Context>;
  }
}
