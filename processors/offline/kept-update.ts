import { TypeName, branchOf, type OfflineUpdate, type ReceiptUpdate } from '../../schemas/types';
import type { KeptUpdate } from '../../stores/redis/offline-store';

/** What is stored for one kept update: the payload and the envelope fields a batch needs. */
interface StoredUpdate {
  update: OfflineUpdate;
  version: number;
  sourceAt: number;
  emittedAt: number;
}

/**
 * How an update for an offline user coalesces: the latest status per message (a read beats a
 * delivered report of the same message), the latest summary per group message, the latest
 * unread sync per conversation. Offline batches themselves are never kept (null).
 */
export function toKept(update: ReceiptUpdate): KeptUpdate | null {
  const p = update.payload;
  let field: string;
  let rank = 0;
  let kept: OfflineUpdate;
  if (TypeName.MessageStatusUpdate in p) {
    const u = p[TypeName.MessageStatusUpdate];
    field = `s:${u.conversation_id}:${u.message_id}`;
    rank = u.status === 'READ' ? 2 : 1;
    kept = p;
  } else if (TypeName.GroupSummary in p) {
    const u = p[TypeName.GroupSummary];
    field = `g:${u.conversation_id}:${u.message_id}`;
    rank = u.status === 'READ' ? 2 : 1;
    kept = p;
  } else if (TypeName.UnreadSync in p) {
    field = `u:${p[TypeName.UnreadSync].conversation_id}`;
    kept = p;
  } else {
    return null;
  }
  const stored: StoredUpdate = {
    update: kept,
    version: update.version,
    sourceAt: update.source_event_at,
    emittedAt: update.emitted_at,
  };
  return { field, rank, version: update.version, value: JSON.stringify(stored) };
}

/** The stored form back ("rank|version|json", as the scripts hand it out). */
export function fromKept(value: string): StoredUpdate {
  const json = value.slice(value.indexOf('|', value.indexOf('|') + 1) + 1);
  return JSON.parse(json) as StoredUpdate;
}

/**
 * The OfflineBatch records for kept updates, oldest first, at most `maxPerBatch` updates each
 * (one record stays well under Kafka's message size limit). Ids are derived from the batch id, so
 * a batch sent again after a crash carries the same ids.
 */
export function offlineBatches(
  userId: string,
  batchId: string,
  values: string[],
  now: number,
  maxPerBatch: number,
): ReceiptUpdate[] {
  const stored = values
    .map(fromKept)
    .sort((a, b) => a.emittedAt - b.emittedAt || a.version - b.version);
  const batches: ReceiptUpdate[] = [];
  for (let i = 0; i < stored.length; i += maxPerBatch) {
    const chunk = stored.slice(i, i + maxPerBatch);
    batches.push({
      update_id: stored.length > maxPerBatch ? `${batchId}:${i / maxPerBatch}` : batchId,
      user_id: userId,
      version: Math.max(...chunk.map((s) => s.version)),
      source_event_at: Math.min(...chunk.map((s) => s.sourceAt)),
      emitted_at: now,
      payload: { [TypeName.OfflineBatch]: { updates: chunk.map((s) => s.update) } },
    });
  }
  return batches;
}

/** 'MessageStatusUpdate' for a wrapped update, for metrics labels. */
export function updateKind(update: ReceiptUpdate): string {
  return branchOf(update.payload).replace('dev.ticks.', '');
}
