import type { BadgeChange, UserStore } from '../../stores/redis/user-store';
import type { PipelineMetrics } from '../../topology/metrics';

/**
 * The unread-senders badge: messages add their source to each recipient's badge, reading a
 * conversation to its end removes it. The auxiliary-Redis dedupe in front of the main Redis and
 * its hit rate are accounted here.
 */
export class BadgeUpdater {
  constructor(
    private readonly users: UserStore,
    private readonly metrics: PipelineMetrics,
  ) {}

  async apply(changes: BadgeChange[]): Promise<void> {
    if (changes.length === 0) return;
    const stats = await this.users.applyBadgeChanges(changes);
    this.metrics.dedupe.inc({ result: 'hit' }, stats.dedupeHits);
    this.metrics.dedupe.inc({ result: 'miss' }, stats.dedupeMisses);
    this.metrics.mainBadgeWrites.inc({ conversation_kind: 'direct' }, stats.mainWrites.DIRECT);
    this.metrics.mainBadgeWrites.inc({ conversation_kind: 'group' }, stats.mainWrites.GROUP);
  }
}
