import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Result } from 'ioredis';
import type { RedisClient } from './connect';
import type { RedisKeys } from './keys';
import { execPipeline, RedisCommandError, pipelineOf } from './pipeline';
import { defineScripts } from './script-loader';

export interface PartitionLeaseOptions {
  /** How long a lease lasts after each acquire or renewal, in Redis (TICKS_PARTITION_LEASE_MS). */
  ttlMs: number;
  /**
   * How much sooner than Redis this process gives its lease up (default a tenth of ttlMs): the
   * time a write started under the lease may take to land before a new owner can take over.
   */
  safetyMarginMs?: number;
}

/** What a fenced write carries: it lands only while `leaseKey` names `owner` (apply-writes-1.lua). */
export interface WriteFence {
  leaseKey: string;
  owner: string;
}

/** A fenced write found its partition's lease held by another process (or by none): nothing was written. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  /** The partition is redone by whoever holds its lease: trying again (after a rewind) can help. */
  readonly retriable = true;
}

/** A lease this process holds, as far as it knows. */
interface HeldLease {
  /** Valid until then (ms, local clock): the latest confirmed command's send time + ttl − margin. */
  validUntil: number;
}

/**
 * Partition leases in Redis: which process may write a partition's state. One per process; its
 * owner id is random (made here), with the host name and pid for humans. A lease is a key per
 * partition (RedisKeys.partitionLease) holding its owner's id and expiring `ttlMs` after the
 * last acquire or renewal; taking one is SET NX, extending and ending one compare the owner
 * first (renew-lease-1.lua, release-lease-1.lua), so no process touches another's lease.
 *
 * Validity is judged locally, never by asking Redis at the moment of a write: holds() is true
 * only until the *send* time of the last successful acquire or renewal + ttl − safety margin.
 * The key expires no sooner than send time + ttl in Redis, so a process that stalled (GC, an
 * overloaded host, SIGSTOP) finds its lease over when it wakes, before any new owner could have
 * taken it — a slow reply never extends validity. A renewal that finds the key gone or another
 * owner in it ends the lease at once.
 */
export class PartitionLeases {
  readonly ownerId: string;
  readonly ttlMs: number;
  readonly safetyMarginMs: number;
  private readonly held = new Map<number, HeldLease>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    options: PartitionLeaseOptions,
  ) {
    const { ttlMs } = options;
    const safetyMarginMs = options.safetyMarginMs ?? Math.round(ttlMs / 10);
    if (!Number.isInteger(ttlMs) || ttlMs <= 0)
      throw new RangeError(`lease ttl must be a positive integer (ms), not ${ttlMs}`);
    if (safetyMarginMs < 0 || safetyMarginMs >= ttlMs)
      throw new RangeError(`lease safety margin must be in [0, ttl), not ${safetyMarginMs}`);
    this.ttlMs = ttlMs;
    this.safetyMarginMs = safetyMarginMs;
    this.ownerId = `${hostname()}/${process.pid}/${randomBytes(8).toString('hex')}`;
    defineScripts(redis);
  }

  /** Partitions whose lease this process believes it holds (valid or not any more). */
  get partitions(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /**
   * Takes the partition's lease if no one holds it, or extends it if this process does.
   * Resolves false when another owner holds it (this process's own knowledge of it, if any,
   * ends: the lease is lost).
   */
  async acquire(partition: number): Promise<boolean> {
    const key = this.keys.partitionLease(partition);
    const known = this.held.get(partition);
    const sentAt = Date.now();
    const [set, extended] = await execPipeline(
      pipelineOf(this.redis)
        .set(key, this.ownerId, 'PX', this.ttlMs, 'NX')
        .renewLease(key, this.ownerId, this.ttlMs),
    );
    if (set === 'OK' || extended === 1) {
      this.confirm(partition, sentAt);
      return true;
    }
    if (this.held.get(partition) === known) this.held.delete(partition);
    return false;
  }

  /**
   * Extends every lease this process holds, in one round trip. Resolves with the partitions
   * whose lease was found gone or taken: they are lost, holds() is false for them from now on.
   * Rejects if Redis could not answer for some (after applying the answers that came): those
   * leases run out unless a later renewal reaches Redis.
   */
  async renew(): Promise<number[]> {
    const leases = [...this.held];
    if (leases.length === 0) return [];
    const pipe = pipelineOf(this.redis);
    for (const [partition] of leases)
      pipe.renewLease(this.keys.partitionLease(partition), this.ownerId, this.ttlMs);
    const sentAt = Date.now();
    const replies = (await pipe.exec()) ?? [];
    const lost: number[] = [];
    let failure: Error | undefined;
    leases.forEach(([partition, lease], i) => {
      const [err, reply] = replies[i] ?? [new Error('no reply'), undefined];
      // Released (or lost and acquired again) while the renewal was under way: not its business.
      if (this.held.get(partition) !== lease) return;
      if (err) failure ??= err;
      else if (reply === 1) this.confirm(partition, sentAt);
      else {
        this.held.delete(partition);
        lost.push(partition);
      }
    });
    if (failure)
      throw new RedisCommandError(`renewing partition leases failed: ${failure.message}`, {
        cause: failure,
      });
    return lost;
  }

  /**
   * Ends the partition's lease: holds() is false at once, and the key is deleted if this process
   * still holds it, so the next owner need not wait for it to expire.
   */
  async release(partition: number): Promise<void> {
    this.held.delete(partition);
    await this.redis.releaseLease(this.keys.partitionLease(partition), this.ownerId);
  }

  /**
   * The fence of this process's writes to the partition's state: RedisClient refuses them once the
   * lease names another owner, even if a stall let this process's own check pass too late.
   */
  fence(partition: number): WriteFence {
    return { leaseKey: this.keys.partitionLease(partition), owner: this.ownerId };
  }

  /** Whether this process may still write the partition's state at `now` (see the class). */
  holds(partition: number, now: number = Date.now()): boolean {
    const lease = this.held.get(partition);
    return lease !== undefined && now < lease.validUntil;
  }

  private confirm(partition: number, sentAt: number): void {
    const validUntil = sentAt + this.ttlMs - this.safetyMarginMs;
    const lease = this.held.get(partition);
    if (lease) lease.validUntil = Math.max(lease.validUntil, validUntil);
    else this.held.set(partition, { validUntil });
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    renewLease(key: string, ownerId: string, ttlMs: number): Result<number, Context>;
    releaseLease(key: string, ownerId: string): Result<number, Context>;
  }
}
