import type { Logger } from 'pino';

/**
 * What the runtime needs of partition leases (stores/redis/partition-lease.ts is the real one):
 * a lease says which process may write a partition's state, and stays valid only as long as its
 * holder keeps renewing it.
 */
export interface PartitionLeaseStore {
  /** How long a lease lasts after each acquire or renewal. */
  readonly ttlMs: number;
  /** Takes the lease, or extends it if this process holds it; false while another holds it. */
  acquire(partition: number): Promise<boolean>;
  /** Extends every lease held; resolves with the partitions found lost (gone, or taken). */
  renew(): Promise<number[]>;
  /** Ends the lease (if this process holds it), so the next owner need not wait for expiry. */
  release(partition: number): Promise<void>;
  /** Whether the lease is known valid at `now` (locally: never extended by a slow reply). */
  holds(partition: number, now?: number): boolean;
}

/** Why a partition's lease was found lost: it ran out, or another process holds it now. */
export type LeaseLossReason = 'expired' | 'taken';

/** A delivery found its partition's lease lost: it ran no after-send hook and committed nothing. */
export class PartitionLeaseLostError extends Error {
  override readonly name = 'PartitionLeaseLostError';
  /** The partition is taken up again once its lease is back: trying again can help. */
  readonly retriable = true;
  constructor(readonly partition: number) {
    super(`the lease of partition ${partition} was lost`);
  }
}

export interface PartitionOwnershipOptions {
  leases: PartitionLeaseStore;
  /** The consumer group's session timeout: heartbeats older than this mean the group gave up. */
  sessionTimeoutMs: number;
  logger: Logger;
  /** A partition's lease was acquired: its steps and punctuations may run. */
  onAcquired(partition: number): void;
  /**
   * A partition's lease was found lost while the group still assigns it here: its work must stop
   * at once (it waits for its lease again).
   */
  onLost(partition: number, reason: LeaseLossReason): void;
}

/**
 * The leases of the partitions the group assigns to this process, kept in step with the
 * assignment:
 *
 * - an assigned partition waits until its lease is acquired (tried every tenth of the lease's
 *   ttl while another process holds it: the previous owner's, until it is released or runs out);
 * - the leases held are renewed every third of the ttl — but only while the group consumer is
 *   healthy, its last heartbeat fresher than the session timeout. A process whose event loop
 *   stalled (or was stopped) past the session timeout has been replaced in the group: it renews
 *   nothing, and finds its leases over when it wakes;
 * - a held lease found lost (expired, or another holder found by a renewal) is handed to
 *   onLost and its partition waits for its lease again, as on assignment;
 * - a partition the group took away keeps its lease until the work it started has settled, then
 *   releases it, so a clean hand-over does not wait for the lease to expire.
 *
 * Each acquisition starts a new **term** of the partition's lease. Work started in one term may
 * run its hooks only in that term: a step processed before its lease was lost (and acquired
 * again, perhaps after another process wrote the partition's state) is stale, whatever the
 * lease's state now.
 *
 * Acquires and releases of one partition run one at a time, in order.
 */
export class PartitionOwnership {
  /** The partitions assigned here, and whether each one's lease is held or still wanted. */
  private readonly assigned = new Map<number, 'acquiring' | 'held'>();
  /** Per partition: its last queued acquire or release (settled; never rejects). */
  private readonly operations = new Map<number, Promise<void>>();
  /** Per partition: the term of its lease, counting acquisitions (see the class). */
  private readonly terms = new Map<number, number>();
  /** Partitions with an acquire attempt queued or under way. */
  private readonly attempting = new Set<number>();
  /** Partitions whose "held by another process" was logged (once per wait). */
  private readonly waitLogged = new Set<number>();
  private lastHeartbeatAt = Number.NEGATIVE_INFINITY;
  private lastRenewalAt = Number.NEGATIVE_INFINITY;
  private lastTickAt = Number.NEGATIVE_INFINITY;
  private renewing = false;
  private unhealthyLogged = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly retryMs: number;
  private readonly renewMs: number;

  constructor(private readonly options: PartitionOwnershipOptions) {
    this.retryMs = Math.max(1, Math.round(options.leases.ttlMs / 10));
    this.renewMs = Math.max(1, Math.round(options.leases.ttlMs / 3));
  }

  start(): void {
    this.stopped = false;
    this.timer ??= setInterval(() => this.tick(), this.retryMs);
  }

  /** The group consumer heard from its coordinator (a heartbeat, a join). */
  heartbeat(at: number = Date.now()): void {
    this.lastHeartbeatAt = Math.max(this.lastHeartbeatAt, at);
    if (this.unhealthyLogged && this.healthy(at)) {
      this.unhealthyLogged = false;
      this.options.logger.info('group heartbeats again: partition leases are renewed again');
    }
  }

  /** Whether the group still counts this process as a member (as far as it can tell). */
  healthy(now: number = Date.now()): boolean {
    return now - this.lastHeartbeatAt < this.options.sessionTimeoutMs;
  }

  /**
   * Whether the partition's work may run now: assigned here, its lease acquired and still valid.
   * A held lease found run out is handed to onLost first.
   */
  mayRun(partition: number, now: number = Date.now()): boolean {
    if (this.assigned.get(partition) !== 'held') return false;
    if (this.options.leases.holds(partition, now)) return true;
    this.lost(partition, 'expired');
    return false;
  }

  /** The term of the partition's lease: work started now may finish only in this term. */
  term(partition: number): number {
    return this.terms.get(partition) ?? 0;
  }

  /**
   * Whether work of the partition started in `term` (a step's delivery) may run its hooks and
   * commit: its lease is valid and has not been lost since. A partition taken away keeps its
   * lease until its deliveries settle, so they are not cut short; an assigned partition's lease
   * found run out is handed to onLost first.
   */
  holds(partition: number, term: number, now: number = Date.now()): boolean {
    if (this.term(partition) !== term) return false;
    if (this.options.leases.holds(partition, now)) return true;
    if (this.assigned.get(partition) === 'held') this.lost(partition, 'expired');
    return false;
  }

  /**
   * The group's new assignment. A partition taken away releases its lease once `settled(p)` —
   * the work it started — has settled; a new one waits for its lease.
   */
  assign(partitions: ReadonlySet<number>, settled: (partition: number) => Promise<unknown>): void {
    for (const partition of [...this.assigned.keys()]) {
      if (partitions.has(partition)) continue;
      this.assigned.delete(partition);
      this.waitLogged.delete(partition);
      this.serially(partition, async () => {
        await settled(partition).catch(() => undefined);
        if (this.assigned.has(partition)) return; // assigned here again meanwhile: kept
        await this.release(partition);
      });
    }
    for (const partition of partitions) {
      if (this.assigned.has(partition)) continue;
      this.assigned.set(partition, 'acquiring');
      this.tryAcquire(partition);
    }
  }

  /**
   * A partition's lease was found lost (by a delivery, or a renewal): hands it to onLost and
   * waits for the lease again. Nothing happens if it was not held (already known lost, or not
   * assigned here any more).
   */
  lost(partition: number, reason: LeaseLossReason): void {
    if (this.assigned.get(partition) !== 'held') return;
    this.assigned.set(partition, 'acquiring');
    // The term ends with the loss, not at the next acquisition: between the store granting the
    // lease again and the term's bump below, work of the lost term would pass holds().
    this.terms.set(partition, this.term(partition) + 1);
    this.options.onLost(partition, reason);
    this.tryAcquire(partition);
  }

  /** Stops renewing and acquiring, and releases every lease (after what is under way). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    for (const partition of this.assigned.keys())
      this.serially(partition, () => this.release(partition));
    this.assigned.clear();
    while (this.operations.size > 0) await Promise.all(this.operations.values());
  }

  private tick(): void {
    const now = Date.now();
    // A lease's validity counts from its renewal's send: a stalled event loop (a long
    // synchronous stretch, GC, a starved CPU) renews late, and past the validity loses them all.
    const late = now - this.lastTickAt - this.retryMs; // the first tick: -Infinity
    this.lastTickAt = now;
    if (late > this.renewMs && Number.isFinite(late) && this.assigned.size > 0)
      this.options.logger.warn(
        { lateMs: late, leaseTtlMs: this.options.leases.ttlMs },
        'the event loop stalled: partition leases were renewed late (they run out if it stalls for most of their ttl)',
      );
    // Judged after the event loop read its sockets: a tick due during a stall runs before the
    // poll phase, and a renewal answered meanwhile (its validity counts from its send) is
    // still unread then. A step or a delivery that looks meanwhile finds the lease as it is.
    const expired = [...this.assigned].filter(
      ([partition, state]) => state === 'held' && !this.options.leases.holds(partition, now),
    );
    if (expired.length > 0)
      setImmediate(() => {
        for (const [partition] of expired)
          if (!this.options.leases.holds(partition)) this.lost(partition, 'expired');
      });
    if (!this.healthy(now)) {
      if (!this.unhealthyLogged && this.assigned.size > 0) {
        this.unhealthyLogged = true;
        this.options.logger.warn(
          { lastHeartbeatMsAgo: now - this.lastHeartbeatAt },
          'no group heartbeat within the session timeout: partition leases are not renewed (they run out)',
        );
      }
      return;
    }
    for (const [partition, state] of this.assigned)
      if (state === 'acquiring') this.tryAcquire(partition);
    // Ticks come every retryMs: half a tick early is on time (a renewal every third of the ttl).
    if (now - this.lastRenewalAt >= this.renewMs - this.retryMs / 2) void this.renew(now);
  }

  private async renew(now: number): Promise<void> {
    if (this.renewing || this.stopped) return;
    this.renewing = true;
    this.lastRenewalAt = now;
    try {
      const lost = await this.options.leases.renew();
      const tookMs = Date.now() - now;
      if (tookMs > this.renewMs)
        this.options.logger.warn(
          { tookMs, leaseTtlMs: this.options.leases.ttlMs },
          'renewing partition leases took longer than a third of their ttl (Redis slow to answer)',
        );
      for (const partition of lost) this.lost(partition, 'taken');
    } catch (err) {
      this.options.logger.warn({ err }, 'renewing partition leases failed; tried again shortly');
    } finally {
      this.renewing = false;
    }
  }

  /** Queues an attempt at the partition's lease, unless one is queued already. */
  private tryAcquire(partition: number): void {
    if (this.attempting.has(partition) || this.stopped || !this.healthy()) return;
    this.attempting.add(partition);
    this.serially(partition, async () => {
      try {
        if (this.assigned.get(partition) !== 'acquiring' || this.stopped || !this.healthy()) return;
        const acquired = await this.options.leases.acquire(partition);
        if (this.assigned.get(partition) !== 'acquiring' || this.stopped) {
          // Taken away (or stopping) while the attempt was under way: the release queued
          // behind this attempt ends the lease.
          return;
        }
        if (!acquired) {
          if (!this.waitLogged.has(partition)) {
            this.waitLogged.add(partition);
            this.options.logger.info(
              { partition, retryMs: this.retryMs },
              'partition lease held by another process (its previous owner): waiting for it',
            );
          }
          return; // the next tick tries again
        }
        this.assigned.set(partition, 'held');
        this.terms.set(partition, this.term(partition) + 1);
        this.waitLogged.delete(partition);
        this.options.onAcquired(partition);
      } catch (err) {
        this.options.logger.warn({ err, partition }, 'acquiring a partition lease failed');
      } finally {
        this.attempting.delete(partition);
      }
    });
  }

  private async release(partition: number): Promise<void> {
    try {
      await this.options.leases.release(partition);
    } catch (err) {
      this.options.logger.warn(
        { err, partition },
        'releasing a partition lease failed; it runs out on its own',
      );
    }
  }

  /** Runs `work` after the partition's earlier acquires and releases. */
  private serially(partition: number, work: () => Promise<void>): void {
    const previous = this.operations.get(partition) ?? Promise.resolve();
    const next = previous
      .then(work)
      .catch((err: unknown) =>
        this.options.logger.error({ err, partition }, 'partition lease operation failed'),
      );
    this.operations.set(partition, next);
    void next.then(() => {
      if (this.operations.get(partition) === next) this.operations.delete(partition);
    });
  }
}
