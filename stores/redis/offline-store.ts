import type { Result } from 'ioredis';
import type { RedisClient } from './connect';
import type { PresenceStatus } from '../../schemas/types';
import type { RedisKeys } from './keys';
import type { Queued } from './pipeline';
import { defineScripts } from './script-loader';

/** One update kept for an offline user; `value` is opaque here (the batcher's JSON). */
export interface KeptUpdate {
  /** What it coalesces on: one field per message (or per conversation for unread syncs). */
  field: string;
  /** Precedence before the version: READ (2) over DELIVERED (1); 0 when only versions compare. */
  rank: number;
  version: number;
  value: string;
}

export type PresenceOutcome = { send: false } | { send: true; batchId: string; values: string[] };

/**
 * The offline batcher's state, per user in one hash-tagged slot ({u:<user>}): the devices online,
 * the updates coalesced while none is, and a batch being sent. Changed only through the
 * offline-*.lua scripts; every key expires after `ttlSeconds` without activity.
 */
export class OfflineStore {
  constructor(
    readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly ttlSeconds: number,
  ) {
    defineScripts(redis);
  }

  /**
   * Keeps the updates if the user is offline. Replies how many were newer than what was kept, or
   * 'online' when nothing is kept because a device of the user is connected.
   */
  coalesce(userId: string, updates: KeptUpdate[], now = Date.now()): Queued<number | 'online'> {
    const args: Array<string | number> = [this.ttlSeconds, now];
    for (const u of updates) args.push(u.field, u.rank, u.version, u.value);
    return {
      queue: (pipe) => pipe.offlineCoalesce(this.keys.user(userId), ...args),
      parse: (reply) => (Number(reply) < 0 ? 'online' : Number(reply)),
    };
  }

  /** An ONLINE device counts as online for `leaseMs` from `now` unless renewed. */
  presence(
    userId: string,
    status: PresenceStatus,
    deviceId: string,
    newBatchId: string,
    leaseMs: number,
    now = Date.now(),
  ): Queued<PresenceOutcome> {
    return {
      queue: (pipe) =>
        pipe.offlinePresence(
          this.keys.user(userId),
          status,
          deviceId,
          this.ttlSeconds,
          newBatchId,
          now,
          now + leaseMs,
        ),
      parse: (reply) => {
        const [kind, batchId, ...values] = reply as string[];
        return kind === 'send' ? { send: true, batchId: batchId!, values } : { send: false };
      },
    };
  }

  sent(userId: string, batchId: string): Queued<boolean> {
    return {
      queue: (pipe) => pipe.offlineSent(this.keys.user(userId), batchId),
      parse: (reply) => reply === 1,
    };
  }

  /** The devices whose lease has not ended at `now`. */
  async onlineDevices(userId: string, now = Date.now()): Promise<string[]> {
    return (
      await this.redis.zrangebyscore(this.keys.userKey(userId, 'devices'), `(${now}`, '+inf')
    ).sort();
  }

  /** How many updates are kept for the user (waiting for a reconnect). */
  async keptCount(userId: string): Promise<number> {
    return this.redis.hlen(this.keys.userKey(userId, 'offline'));
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    offlineCoalesce(...args: Array<string | number>): Result<unknown, Context>;
    offlinePresence(...args: Array<string | number>): Result<unknown, Context>;
    offlineSent(...args: Array<string | number>): Result<unknown, Context>;
  }
}
