import type { RedisClient } from './connect';
import type { RedisKeys } from './keys';
import { scanKeys } from './keyspace';

/** Whether badge hashes of the builds before the badge moved into the user's index may exist. */
export interface LegacyBadgeHashes {
  readonly mayExist: boolean;
}

/** What a store told nothing else assumes: they may (every command for them is sent). */
export const LEGACY_BADGES_MAY_EXIST: LegacyBadgeHashes = { mayExist: true };

/** The layout hash's field, and its value once the keyspace holds no legacy badge hash. */
const FIELD = 'badge-hashes';
const NONE = 'none';

export interface LegacyBadgeScanOptions {
  /** How long after a walk that found some the next one starts (default ten minutes). */
  rescanMs?: number;
  /** A check that failed (it is tried again after rescanMs). */
  onError?: (err: unknown) => void;
  /** The keyspace was proven to hold none. */
  onRetired?: () => void;
}

/**
 * Retires the commands kept for older builds' badge hashes (RedisKeys.legacyBadge;
 * badge-entries.ts: an HDEL beside each badge removal, an HLEN beside each badge size — about
 * 0.3 main-Redis commands per input event in real time) once the keyspace is proven to hold
 * none. No build since the badge moved into the index writes one, and the ones an older build
 * wrote expire with the hot TTL. The proof is a walk of the keyspace (SCAN MATCH, every master
 * of a cluster) that finds none; it is recorded in the layout hash (RedisKeys.layout), which
 * later processes read instead of walking again. While some exist, the walk is repeated every
 * `rescanMs`. Until then `mayExist` holds, and the stores send those commands as before.
 *
 * The proof holds while no process of an older build writes: an upgrade from such a build
 * stops its processes before this one starts, or the hashes they write later are not read.
 */
export class LegacyBadgeScan implements LegacyBadgeHashes {
  private gone = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private firstCheck?: Promise<void>;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: LegacyBadgeScanOptions = {},
  ) {}

  get mayExist(): boolean {
    return !this.gone;
  }

  /**
   * Starts checking, in the background: the recorded proof, else a walk, again after rescanMs
   * until proven. Resolves when the first check has ended, proven or not.
   */
  start(): Promise<void> {
    return (this.firstCheck ??= this.check());
  }

  /** Stops checking (a walk under way ends after its current SCAN). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async check(): Promise<void> {
    try {
      if (await this.proven()) {
        this.gone = true;
        this.options.onRetired?.();
        return;
      }
    } catch (err) {
      if (!this.stopped) this.options.onError?.(err);
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), this.options.rescanMs ?? 600_000);
    this.timer.unref();
  }

  private async proven(): Promise<boolean> {
    if ((await this.redis.hget(this.keys.layout(), FIELD)) === NONE) return true;
    const stopped = () => this.stopped;
    const found = await scanKeys(this.redis, this.keys.legacyBadges(), 1000, { limit: 1, stopped });
    if (found.length > 0 || this.stopped) return false;
    await this.redis.hset(this.keys.layout(), FIELD, NONE);
    return true;
  }
}
