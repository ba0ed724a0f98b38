import {
  TypeName,
  type ReceiptUpdate,
  type StateChange,
  type UnreadSync,
  type WatermarkAdvanced,
  type MessageStatusUpdate,
  type GroupSenderSummary,
} from '../../schemas/types';

/** A watermark seen to go back: `from` then `to` (< from), where and by which versions. */
export interface Regression {
  /** What moved back: `<view>/<conversation>/<user>[/<by>]`. */
  what: string;
  from: number;
  to: number;
  /** The versions of the two updates (changelog: their source offsets). */
  versions: [number, number];
  /** Where the update that moved it back is in the list given. */
  index: number;
}

/**
 * The read watermarks a client sees when it applies receipt_updates by version, as DESIGN.md
 * asks of clients: per user and conversation, an update is applied only if its version is
 * higher than the last applied one. `updates` in the order a user receives them (one
 * receipt_updates partition per user: the order the collector read them in). Tells every time
 * an applied update moved a watermark back:
 *   - unread sync: the user's own read-up-to (read_up_to_seq);
 *   - direct status READ: how far the peer (`by`) has read, as the sender sees it;
 *   - group summary: how many members read, and got, each message, as its sender sees it.
 */
export function clientRegressions(updates: readonly ReceiptUpdate[]): Regression[] {
  const views = new Map<string, { version: number; seq: number }>();
  const out: Regression[] = [];
  let index = 0;
  const apply = (what: string, version: number, seq: number) => {
    const seen = views.get(what);
    if (seen && version <= seen.version) return; // older than what the client shows: dropped
    if (seen && seq < seen.seq)
      out.push({ what, from: seen.seq, to: seq, versions: [seen.version, version], index });
    views.set(what, { version, seq });
  };
  for (const [i, u] of updates.entries()) {
    index = i;
    const sync = (u.payload as { [TypeName.UnreadSync]?: UnreadSync })[TypeName.UnreadSync];
    if (sync) apply(`sync/${sync.conversation_id}/${u.user_id}`, u.version, sync.read_up_to_seq);
    const status = (u.payload as { [TypeName.MessageStatusUpdate]?: MessageStatusUpdate })[
      TypeName.MessageStatusUpdate
    ];
    if (status?.status === 'READ')
      apply(`read/${status.conversation_id}/${u.user_id}/${status.by}`, u.version, status.seq);
    const summary = (u.payload as { [TypeName.GroupSenderSummary]?: GroupSenderSummary })[
      TypeName.GroupSenderSummary
    ];
    for (const m of summary?.messages ?? []) {
      const what = `${summary!.conversation_id}/${u.user_id}/${m.message_id}`;
      apply(`group-read/${what}`, u.version, m.read_count);
      apply(`group-delivered/${what}`, u.version, m.delivered_count);
    }
  }
  return out;
}

/**
 * The changelog's watermarks going back, per conversation and member, in changelog order (one
 * state_changes partition per conversation: the order the collector read them in).
 */
export function changelogRegressions(changes: readonly StateChange[]): Regression[] {
  const last = new Map<string, { read: number; delivered: number; offset: number }>();
  const out: Regression[] = [];
  for (const [index, c] of changes.entries()) {
    const w = watermarkOf(c);
    if (!w) continue;
    const key = `${c.conversation_id}/${w.user_id}`;
    const seen = last.get(key);
    const now = { read: w.read_seq, delivered: w.delivered_seq };
    for (const kind of ['read', 'delivered'] as const)
      if (seen && now[kind] < seen[kind])
        out.push({
          what: `changelog-${kind}/${key}`,
          from: seen[kind],
          to: now[kind],
          versions: [seen.offset, c.source_offset],
          index,
        });
    last.set(key, { read: w.read_seq, delivered: w.delivered_seq, offset: c.source_offset });
  }
  return out;
}

function watermarkOf(c: StateChange): WatermarkAdvanced | undefined {
  return (c.change as { [TypeName.WatermarkAdvanced]?: WatermarkAdvanced })[
    TypeName.WatermarkAdvanced
  ];
}
