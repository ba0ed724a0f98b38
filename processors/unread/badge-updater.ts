import type { BadgeChange, UserStore } from '../../stores/redis/user-store';
import type { DedupeMarkCache } from '../../stores/state/dedupe-mark-cache';
import type { PipelineMetrics } from '../../runtime/metrics';
import type { ProcessorContext } from '../../runtime/api';

/**
 * The unread-senders badge: messages add their source to each recipient's badge, reading a
 * conversation to its end removes it. The auxiliary-Redis dedupe in front of the main Redis and
 * its hit rate are accounted here.
 */
export class BadgeUpdater {
  constructor(
    private readonly users: UserStore,
    private readonly metrics: PipelineMetrics,
    /** The dedupe marks kept in memory in front of the auxiliary Redis (none: always read it). */
    private readonly marks?: DedupeMarkCache,
  ) {}

  /**
   * Applies a step's badge changes and returns the badge sizes of `countsFor` after them. The
   * dedupe marks are written while the step goes on; the step's commit waits for them.
   */
  async apply(
    changes: BadgeChange[],
    ctx: ProcessorContext,
    countsFor: string[] = [],
  ): Promise<Map<string, number>> {
    if (changes.length === 0 && countsFor.length === 0) return new Map();
    const stats = await this.users.applyBadgeChanges(changes, {
      countsFor,
      deferMarks: (written) => ctx.afterSend(() => written),
      memory: this.marks?.of(ctx.partition),
      // Written mid-step, after reads: not by a process that lost the partition meanwhile.
      beforeWrite: () => ctx.assertLeaseHeld(),
    });
    this.metrics.dedupe.inc({ result: 'memory_hit' }, stats.memoryHits);
    this.metrics.dedupe.inc({ result: 'aux_hit' }, stats.auxHits);
    this.metrics.dedupe.inc({ result: 'miss' }, stats.misses);
    this.metrics.mainBadgeWrites.inc({ conversation_kind: 'direct' }, stats.mainWrites.DIRECT);
    this.metrics.mainBadgeWrites.inc({ conversation_kind: 'group' }, stats.mainWrites.GROUP);
    return stats.counts ?? new Map();
  }
}
