import type { ReceiptUpdate } from '../../schemas/types';
import type { OfflineStore } from '../../stores/redis/offline-store';
import { runQueued } from '../../stores/redis/pipeline';
import type { Decoded, Processor, ProcessorContext } from '../../runtime/api';
import { toKept } from './kept-update';
import type { OfflineMetrics } from './offline-metrics';

/**
 * Reads receipt_updates (keyed by the user to notify) and keeps, for each user with no device
 * online, the latest update per message (a group summary of several messages is kept message by
 * message). Its own OfflineBatch records come back on the same
 * topic and are ignored. Idempotent: keeping is a max over (rank, version).
 */
export class OfflineUpdatesProcessor implements Processor<ReceiptUpdate> {
  readonly name = 'offline-updates';
  readonly source = 'receiptUpdates' as const;

  constructor(
    private readonly store: OfflineStore,
    private readonly metrics: OfflineMetrics,
  ) {}

  async process(records: Decoded<ReceiptUpdate>[], _ctx: ProcessorContext): Promise<void> {
    const calls = [];
    for (const { value } of records) {
      const kept = toKept(value);
      if (!kept) {
        this.metrics.updates.inc({ outcome: 'own_batch' });
        continue;
      }
      calls.push(this.store.coalesce(value.user_id, kept));
    }
    const replies = await runQueued(this.store.redis, calls);
    for (const reply of replies) {
      if (reply === 'online') this.metrics.updates.inc({ outcome: 'live' });
      else this.metrics.updates.inc({ outcome: reply > 0 ? 'kept' : 'superseded' });
    }
  }
}
