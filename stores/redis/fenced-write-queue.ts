import type { Result } from 'ioredis';
import { isCluster, type RedisClient } from './connect';
import { LeaseLostError, type WriteFence } from './partition-lease';
import { RedisCommandError } from './pipeline';
import { defineScripts } from './script-loader';

interface Queued {
  fence: WriteFence;
  json: string;
  /** Whether the caller wants the commands' replies (else their number). */
  replies: boolean;
  resolve(result: number | unknown[]): void;
  reject(err: Error): void;
}

/**
 * Fenced write-behinds on their way to one Redis, sent together: those queued in one turn of
 * the event loop (the steps of several partitions whose outputs one produce acknowledged) go as
 * one apply-fenced-writes call, each under its own fence, instead of a script call each — below
 * saturation a step carries a few events, and a call per step was most of the script calls per
 * event. Each caller hears of its own write-behind only: applied, its lease lost
 * (LeaseLostError), or a command refused. On a Redis Cluster a script reaches one slot: each is
 * sent alone there (apply-writes-1.lua).
 */
export class FencedWriteQueue {
  private queued: Queued[] = [];

  constructor(private readonly redis: RedisClient) {
    defineScripts(redis);
  }

  /** Runs JSON-encoded commands under `fence`; resolves with their number. */
  apply(fence: WriteFence, json: string): Promise<number> {
    return this.queue(fence, json, false) as Promise<number>;
  }

  /** Runs JSON-encoded commands under `fence`; resolves with their replies, in order. */
  applyForReplies(fence: WriteFence, json: string): Promise<unknown[]> {
    return this.queue(fence, json, true) as Promise<unknown[]>;
  }

  private queue(fence: WriteFence, json: string, replies: boolean): Promise<number | unknown[]> {
    if (isCluster(this.redis)) return this.applyAlone(fence, json, replies);
    return new Promise((resolve, reject) => {
      if (this.queued.length === 0) setImmediate(() => this.send());
      this.queued.push({ fence, json, replies, resolve, reject });
    });
  }

  private send(): void {
    const batch = this.queued;
    this.queued = [];
    if (batch.length === 1) {
      const [one] = batch;
      this.applyAlone(one!.fence, one!.json, one!.replies).then(one!.resolve, one!.reject);
      return;
    }
    const args: string[] = [];
    for (const { fence } of batch) args.push(fence.leaseKey);
    for (const { fence, json, replies } of batch)
      args.push(fence.owner, json, replies ? 'replies' : '');
    this.redis.applyFencedWrites(batch.length, ...args).then(
      (results) =>
        batch.forEach((q, i) => {
          const result = (results as Array<number | string | unknown[]>)[i];
          if (typeof result === 'number' || Array.isArray(result)) q.resolve(result);
          else if (String(result).startsWith('LEASE_LOST '))
            q.reject(new LeaseLostError(String(result).slice('LEASE_LOST '.length)));
          else q.reject(new RedisCommandError(`Redis command failed: ${String(result)}`));
        }),
      (err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        for (const q of batch) q.reject(error);
      },
    );
  }

  private async applyAlone(
    fence: WriteFence,
    json: string,
    replies: boolean,
  ): Promise<number | unknown[]> {
    try {
      return replies
        ? await this.redis.applyWrites(fence.leaseKey, json, fence.owner, 'replies')
        : await this.redis.applyWrites(fence.leaseKey, json, fence.owner);
    } catch (err) {
      throw leaseLost(err) ?? err;
    }
  }
}

/** The LeaseLostError a refused apply-writes call (or a pipeline failing with one) means. */
export function leaseLost(err: unknown): LeaseLostError | undefined {
  const refused = [err, (err as { cause?: unknown } | undefined)?.cause].find(
    (e): e is Error => e instanceof Error && e.message.startsWith('LEASE_LOST'),
  );
  return refused && new LeaseLostError(refused.message.slice('LEASE_LOST '.length), { cause: err });
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    applyFencedWrites(...args: Array<string | number>): Result<unknown[], Context>;
  }
}
