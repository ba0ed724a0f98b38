import { Counter, type Registry } from 'prom-client';

/** The offline batcher's own metrics, on the registry the process serves at /metrics. */
export class OfflineMetrics {
  readonly updates: Counter<'outcome'>;
  readonly presence: Counter<'status'>;
  readonly batches: Counter;
  readonly batchedUpdates: Counter;
  readonly droppedDeleted: Counter;

  constructor(registry: Registry) {
    this.updates = new Counter({
      name: 'ticks_offline_updates_total',
      help: 'receipt_updates seen by the offline batcher: kept (user offline), superseded (an equal or newer one was kept), live (user online), own_batch (ignored)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    this.presence = new Counter({
      name: 'ticks_offline_presence_total',
      help: 'Presence records applied by the offline batcher, by status',
      labelNames: ['status'] as const,
      registers: [registry],
    });
    this.batches = new Counter({
      name: 'ticks_offline_batches_total',
      help: 'OfflineBatch updates produced on reconnect',
      registers: [registry],
    });
    this.batchedUpdates = new Counter({
      name: 'ticks_offline_batched_updates_total',
      help: 'Updates delivered inside OfflineBatch records',
      registers: [registry],
    });
    this.droppedDeleted = new Counter({
      name: 'ticks_offline_dropped_deleted_total',
      help: 'Kept updates left out of an OfflineBatch because their message was deleted after they were kept',
      registers: [registry],
    });
  }
}
