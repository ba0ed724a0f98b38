import type { Presence } from '../../schemas/types';
import type { OfflineStore } from '../../stores/redis/offline-store';
import type { ReadModel } from '../../stores/redis/read-model';
import { runQueued } from '../../stores/redis/pipeline';
import type { Decoded, Processor, ProcessorContext } from '../../runtime/api';
import { keptMessages, keptOfDeleted, offlineBatches } from './kept-update';
import type { OfflineMetrics } from './offline-metrics';

/**
 * Reads presence (keyed by user_id, co-partitioned with receipt_updates) and, when a user's
 * first device comes back, produces one OfflineBatch with what was kept while they were away.
 * The batch is forgotten only after it was produced; a crash before that sends it again with
 * the same ids (the batch id is derived from the presence record).
 */
export class PresenceProcessor implements Processor<Presence> {
  readonly name = 'offline-presence';
  readonly source = 'presence' as const;

  constructor(
    private readonly store: OfflineStore,
    private readonly metrics: OfflineMetrics,
    private readonly maxUpdatesPerBatch: number,
    /** The lease of an ONLINE record that names none (a gateway of the version before). */
    private readonly defaultLeaseMs: number,
    /** Which messages were deleted: their kept statuses are left out of the batch. */
    private readonly deletions: Pick<ReadModel, 'deletedAmong'>,
  ) {}

  async process(records: Decoded<Presence>[], ctx: ProcessorContext): Promise<void> {
    const valid = records.filter(({ record, value }) => {
      const problem =
        value.user_id.length === 0 || value.device_id.length === 0
          ? 'user_id and device_id must not be empty'
          : record.key?.toString('utf8') !== value.user_id
            ? 'record key must be the user_id (presence is co-partitioned with receipt_updates)'
            : null;
      if (problem) ctx.deadLetter(record, 'INVALID_FIELDS', problem);
      return problem === null;
    });
    // In order: each script sees the effect of the previous one on the same user.
    const outcomes = await runQueued(
      this.store.redis,
      valid.map(({ record, value }) =>
        this.store.presence(
          value.user_id,
          value.status,
          value.device_id,
          `o:${value.user_id}:${record.partition}:${record.offset}`,
          value.lease_ms ?? this.defaultLeaseMs,
          ctx.now,
        ),
      ),
    );
    // Statuses kept before their message was deleted are not delivered: checked now, at
    // delivery, in one round trip for the step's batches (a deletion only ever adds to it).
    const told = new Map<string, string[]>();
    for (const outcome of outcomes)
      if (outcome.send)
        for (const [c, ids] of keptMessages(outcome.values))
          told.set(c, [...(told.get(c) ?? []), ...ids]);
    const deleted = await this.deletions.deletedAmong(told);
    const isDeleted = (c: string, m: string) => deleted.get(c)?.has(m) ?? false;

    const sent = new Set<string>();
    const confirm: Array<{ userId: string; batchId: string }> = [];
    outcomes.forEach((outcome, i) => {
      const { value } = valid[i]!;
      this.metrics.presence.inc({ status: value.status });
      if (!outcome.send) return;
      const once = `${value.user_id}\u0000${outcome.batchId}`;
      if (sent.has(once)) return; // another device of the same user in this batch
      sent.add(once);
      const batches = offlineBatches(
        value.user_id,
        outcome.batchId,
        outcome.values,
        ctx.now,
        this.maxUpdatesPerBatch,
        isDeleted,
      );
      for (const batch of batches) ctx.send('receiptUpdates', value.user_id, batch);
      const dropped = keptOfDeleted(outcome.values, isDeleted);
      if (batches.length > 0) this.metrics.batches.inc();
      this.metrics.batchedUpdates.inc(outcome.values.length - dropped);
      this.metrics.droppedDeleted.inc(dropped);
      // Confirmed even when nothing was left to send: the kept updates are done with.
      confirm.push({ userId: value.user_id, batchId: outcome.batchId });
    });
    if (confirm.length > 0)
      ctx.afterSend(async () => {
        await runQueued(
          this.store.redis,
          confirm.map((c) => this.store.sent(c.userId, c.batchId)),
        );
      });
  }
}
