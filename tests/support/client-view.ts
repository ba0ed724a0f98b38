import type { ReceiptUpdate } from '../../schemas/types';

interface Seen {
  update_id: string;
  version: number;
  payload: unknown;
}

/** What a client shows, and the updates whose versions would mislead it. */
export interface ClientView {
  /**
   * `${user}/${conversation}/${kind}` → the payload of the update applied last (kind: its
   * record name, e.g. UnreadSync), keys sorted.
   */
  shown: Record<string, unknown>;
  /**
   * Updates with the version of an earlier one of the same user, conversation and kind but other
   * content: the client, holding the first, drops the second, so it is never shown.
   */
  conflicts: Array<{ key: string; first: Seen; second: Seen }>;
  /**
   * Updates that arrived after one of the same user and conversation with a higher version (of
   * any kind): their versions contradict the order in which they were sent, and a client that
   * keeps the highest version per conversation (versions are per conversation) drops them.
   */
  outOfOrder: Array<{ conversation: string; after: Seen; late: Seen }>;
}

/**
 * receipt_updates applied as a client applies them, in arrival order (a user's updates are on one
 * partition, in the order they were sent): per user, conversation and kind it keeps the update
 * with the highest version and drops one with a lower or equal version.
 */
export function clientView(updates: readonly ReceiptUpdate[]): ClientView {
  const applied = new Map<string, Seen & { content: string }>();
  const newest = new Map<string, Seen>();
  const view: ClientView = { shown: {}, conflicts: [], outOfOrder: [] };
  for (const update of updates) {
    const [type, payload] = Object.entries(update.payload)[0] as [
      string,
      { conversation_id: string },
    ];
    const seen: Seen = { update_id: update.update_id, version: update.version, payload };
    const conversation = `${update.user_id}/${payload.conversation_id}`;
    const before = newest.get(conversation);
    if (before && before.version > update.version)
      view.outOfOrder.push({ conversation, after: before, late: seen });
    else newest.set(conversation, seen);

    const key = `${conversation}/${type.slice(type.lastIndexOf('.') + 1)}`;
    const content = JSON.stringify(payload);
    const current = applied.get(key);
    if (current && current.version === update.version && current.content !== content)
      view.conflicts.push({
        key,
        first: { update_id: current.update_id, version: current.version, payload: current.payload },
        second: seen,
      });
    if (current && current.version >= update.version) continue;
    applied.set(key, { ...seen, content });
  }
  for (const key of [...applied.keys()].sort()) view.shown[key] = applied.get(key)!.payload;
  return view;
}

/**
 * The updates without exact repeats of one received before (same update_id, version and
 * content): at-least-once delivery writes a record again when a produce request is retried after
 * the broker wrote it without answering (a new producer id, so Kafka does not drop the copy), or a
 * step is redone. DESIGN.md allows it ("a repeated update may repeat its version and update_id")
 * and a client drops the copy by its version, so it is neither out of order nor a conflict.
 */
export function withoutRepeats(updates: readonly ReceiptUpdate[]): ReceiptUpdate[] {
  const seen = new Set<string>();
  return updates.filter((u) => {
    const key = `${u.update_id}|${u.version}|${JSON.stringify(u.payload)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
