import {
  TypeName,
  branchOf,
  senderSummaryOf,
  type GroupSenderSummary,
  type OfflineUpdate,
  type ReceiptUpdate,
} from '../../schemas/types';
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
 * delivered report of the same message), the latest counts per group message (a sender's summary
 * is kept message by message, so a later window that changed other messages keeps these), the
 * latest unread sync per conversation. Offline batches themselves are never kept (null).
 */
export function toKept(update: ReceiptUpdate): KeptUpdate[] | null {
  const p = update.payload;
  const keep = (field: string, rank: number, kept: OfflineUpdate): KeptUpdate => {
    const stored: StoredUpdate = {
      update: kept,
      version: update.version,
      sourceAt: update.source_event_at,
      emittedAt: update.emitted_at,
    };
    return { field, rank, version: update.version, value: JSON.stringify(stored) };
  };
  if (TypeName.MessageStatusUpdate in p) {
    const u = p[TypeName.MessageStatusUpdate];
    return [keep(`s:${u.conversation_id}:${u.message_id}`, u.status === 'READ' ? 2 : 1, p)];
  }
  if (TypeName.GroupSenderSummary in p || TypeName.GroupSummary in p) {
    const summary =
      TypeName.GroupSenderSummary in p
        ? p[TypeName.GroupSenderSummary]
        : senderSummaryOf(p[TypeName.GroupSummary]);
    return summary.messages.map((m) =>
      keep(`g:${summary.conversation_id}:${m.message_id}`, m.status === 'READ' ? 2 : 1, {
        [TypeName.GroupSenderSummary]: { ...summary, messages: [m] },
      }),
    );
  }
  if (TypeName.UnreadSync in p) return [keep(`u:${p[TypeName.UnreadSync].conversation_id}`, 0, p)];
  return null;
}

/** The stored form back ("rank|version|json", as the scripts hand it out). */
export function fromKept(value: string): StoredUpdate {
  const json = value.slice(value.indexOf('|', value.indexOf('|') + 1) + 1);
  return JSON.parse(json) as StoredUpdate;
}

/** Whether a message was deleted (its status must not be delivered any more). */
export type IsDeleted = (conversationId: string, messageId: string) => boolean;

/** The messages kept values tell of (statuses and group counts): conversation → message ids. */
export function keptMessages(values: string[]): Map<string, string[]> {
  const messages = new Map<string, string[]>();
  const add = (conversationId: string, messageId: string) =>
    messages.set(conversationId, [...(messages.get(conversationId) ?? []), messageId]);
  for (const { update } of values.map(fromKept)) {
    if (TypeName.MessageStatusUpdate in update) {
      const u = update[TypeName.MessageStatusUpdate];
      add(u.conversation_id, u.message_id);
    }
    const summary = summaryOf(update);
    for (const m of summary?.messages ?? []) add(summary!.conversation_id, m.message_id);
  }
  return messages;
}

/**
 * A kept update without what it says of deleted messages: a status of one is dropped, a group
 * summary loses its counts (dropped when none is left). A message deleted after its status was
 * kept is never told of again (issue 14).
 */
function withoutDeleted(stored: StoredUpdate, isDeleted: IsDeleted): StoredUpdate | null {
  const { update } = stored;
  if (TypeName.MessageStatusUpdate in update) {
    const u = update[TypeName.MessageStatusUpdate];
    return isDeleted(u.conversation_id, u.message_id) ? null : stored;
  }
  const summary = summaryOf(update);
  if (!summary) return stored;
  const messages = summary.messages.filter(
    (m) => !isDeleted(summary.conversation_id, m.message_id),
  );
  if (messages.length === summary.messages.length) return stored;
  if (messages.length === 0) return null;
  return { ...stored, update: { [TypeName.GroupSenderSummary]: { ...summary, messages } } };
}

/** How many kept values speak only of deleted messages (each kept value tells of one). */
export function keptOfDeleted(values: string[], isDeleted: IsDeleted): number {
  return values.filter((v) => withoutDeleted(fromKept(v), isDeleted) === null).length;
}

/**
 * The OfflineBatch records for kept updates, oldest first, at most `maxPerBatch` kept updates
 * each (one record stays well under Kafka's message size limit), leaving out what they say of
 * deleted messages (none when nothing is left). In each record a conversation's group messages
 * come back together as one GroupSenderSummary, where its newest one stood. Ids are derived
 * from the batch id, so a batch sent again after a crash carries the same ids.
 */
export function offlineBatches(
  userId: string,
  batchId: string,
  values: string[],
  now: number,
  maxPerBatch: number,
  isDeleted: IsDeleted = () => false,
): ReceiptUpdate[] {
  const stored = values
    .map(fromKept)
    .flatMap((s) => withoutDeleted(s, isDeleted) ?? [])
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
      payload: {
        [TypeName.OfflineBatch]: { updates: groupedBySender(chunk.map((s) => s.update)) },
      },
    });
  }
  return batches;
}

/**
 * The group messages of each conversation (kept one by one, some perhaps by an earlier build as
 * GroupSummary) as one GroupSenderSummary, newest message first, spanning their windows, at the
 * place of the conversation's last one; the other updates stay as they are. The user is the
 * sender of every one of them: one conversation, one summary.
 */
function groupedBySender(updates: OfflineUpdate[]): OfflineUpdate[] {
  const merged = new Map<string, { summary: GroupSenderSummary; last: number }>();
  updates.forEach((u, i) => {
    const s = summaryOf(u);
    if (!s) return;
    const m = merged.get(s.conversation_id);
    if (!m) {
      merged.set(s.conversation_id, { summary: { ...s, messages: [...s.messages] }, last: i });
      return;
    }
    m.summary.messages.push(...s.messages);
    m.summary.window_start = Math.min(m.summary.window_start, s.window_start);
    m.summary.window_end = Math.max(m.summary.window_end, s.window_end);
    m.last = i;
  });
  return updates.flatMap((u, i): OfflineUpdate[] => {
    const s = summaryOf(u);
    if (!s) return [u];
    const m = merged.get(s.conversation_id)!;
    if (m.last !== i) return [];
    m.summary.messages.sort((a, b) => b.seq - a.seq);
    return [{ [TypeName.GroupSenderSummary]: m.summary }];
  });
}

/** A kept group update as a GroupSenderSummary (an earlier build kept GroupSummary); else null. */
function summaryOf(u: OfflineUpdate): GroupSenderSummary | null {
  return TypeName.GroupSenderSummary in u
    ? u[TypeName.GroupSenderSummary]
    : TypeName.GroupSummary in u
      ? senderSummaryOf(u[TypeName.GroupSummary])
      : null;
}

/** 'MessageStatusUpdate' for a wrapped update, for metrics labels. */
export function updateKind(update: ReceiptUpdate): string {
  return branchOf(update.payload).replace('dev.ticks.', '');
}
