import type { BadgeChange, UserStore } from '../../stores/redis/user-store';
import type { DedupeMarkCache } from '../../stores/state/dedupe-mark-cache';
import type { PipelineMetrics } from '../../runtime/metrics';
import type { ProcessorContext } from '../../runtime/api';
import type { Logger } from 'pino';

/**
 * The unread-senders badge: messages add their source to each recipient's badge, reading a
 * conversation to its end removes it. The auxiliary-Redis dedupe in front of the main Redis and
 * its hit rate are accounted here.
 */
export class BadgeUpdater {
  /** Partitions whose badges are written without dedupe since an aux failure (warned once). */
  private readonly degraded = new Set<number>();
  /** Per partition: the badge writes under way, which the next ones wait for. */
  private readonly chains = new Map<number, Promise<void>>();

  constructor(
    private readonly users: UserStore,
    private readonly metrics: PipelineMetrics,
    /** The dedupe marks kept in memory in front of the auxiliary Redis (none: always read it). */
    private readonly marks?: DedupeMarkCache,
    private readonly logger?: Logger,
  ) {
    users.onRecovered = (partition) => {
      if (!this.degraded.delete(partition)) return;
      this.metrics.auxDegraded.set({ partition: String(partition) }, 0);
      this.logger?.info({ partition }, 'auxiliary Redis back: badge dedupe resumes');
    };
    users.onRepairFailed = (partition, err) =>
      this.logger?.debug({ partition, err: String(err) }, 'auxiliary Redis still failing');
  }

  /**
   * Applies a step's badge changes and returns the badge sizes of `countsFor` after them. The
   * dedupe marks are written while the step goes on; the step's commit waits for them.
   */
  apply(
    changes: BadgeChange[],
    ctx: ProcessorContext,
    countsFor: string[] = [],
  ): Promise<Map<string, number>> {
    if (changes.length === 0 && countsFor.length === 0) return Promise.resolve(new Map());
    // One partition's badge writes land in the order they were asked for: a processor may go on
    // while its writes are under way (ProcessorContext.waitFor), and a later step's or
    // processor's change of the same badge entry must not overtake them.
    const before = this.chains.get(ctx.partition) ?? Promise.resolve();
    const applied = before.then(() => this.applyNow(changes, ctx, countsFor));
    const settled = applied.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(ctx.partition, settled);
    void settled.then(() => {
      if (this.chains.get(ctx.partition) === settled) this.chains.delete(ctx.partition);
    });
    return applied;
  }

  private async applyNow(
    changes: BadgeChange[],
    ctx: ProcessorContext,
    countsFor: string[],
  ): Promise<Map<string, number>> {
    const stats = await this.users.applyBadgeChanges(changes, {
      countsFor,
      deferMarks: (written) => ctx.afterSend(() => written),
      memory: this.marks?.of(ctx.partition),
      partition: ctx.partition,
      // Written mid-step, after reads: not by a process that lost the partition meanwhile.
      beforeWrite: () => ctx.assertLeaseHeld(),
    });
    if (stats.aux !== 'ok') this.noteDegraded(ctx.partition, stats.auxError);
    this.metrics.dedupe.inc({ result: 'memory_hit' }, stats.memoryHits);
    this.metrics.dedupe.inc({ result: 'aux_hit' }, stats.auxHits);
    this.metrics.dedupe.inc({ result: 'miss' }, stats.misses);
    this.metrics.mainBadgeWrites.inc({ conversation_kind: 'direct' }, stats.mainWrites.DIRECT);
    this.metrics.mainBadgeWrites.inc({ conversation_kind: 'group' }, stats.mainWrites.GROUP);
    this.metrics.badgeChanges.inc({ op: 'add' }, stats.changed.add);
    this.metrics.badgeChanges.inc({ op: 'remove' }, stats.changed.remove);
    return stats.counts ?? new Map();
  }

  /** The aux Redis failed or its marks are untrusted: badges go to main unguarded, said once. */
  private noteDegraded(partition: number, err: Error | undefined): void {
    if (err) this.metrics.auxErrors.inc();
    if (this.degraded.has(partition)) return;
    this.degraded.add(partition);
    this.metrics.auxDegraded.set({ partition: String(partition) }, 1);
    this.logger?.warn(
      { partition, err: err?.message },
      'auxiliary Redis failing (check TICKS_AUX_REDIS_URL, or `npm run stack:up`): badges written to main without dedupe until it answers again',
    );
  }
}
