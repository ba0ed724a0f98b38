import type { ChainableCommander, Redis } from 'ioredis';

export class RedisCommandError extends Error {
  override readonly name = 'RedisCommandError';
  readonly retriable = true;
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
export async function runQueued<T>(redis: Redis, calls: Queued<T>[]): Promise<T[]> {
  if (calls.length === 0) return [];
  const pipe = redis.pipeline();
  for (const call of calls) call.queue(pipe);
  const replies = await execPipeline(pipe);
  return replies.map((reply, i) => calls[i]!.parse(reply));
}
