import { TypeName, type StateChange } from '../../schemas/types';
import type { Client } from 'cassandra-driver';
import { toNumber } from '../../stores/cassandra/connect';
import type { DurableStateReader } from '../../stores/cassandra/durable-state-reader';
import { effectiveWatermarks } from '../../scripts/rebuild/conversation-rebuild';
import type { Harness } from './harness';
import { conversationWatermarks } from './watermarks';

export interface Advance {
  seq: number;
  at: number;
}

/** What Cassandra must hold after the persister wrote this changelog, derived independently. */
export interface DurableModel {
  /** conversation → seqs of its messages */
  messages: Map<string, Set<number>>;
  /** `${c}/${m}/${u}` → when first delivered by id */
  deliveredById: Map<string, number>;
  /** `${c}/${u}` → every move of the read watermark, in order */
  readAdvances: Map<string, Advance[]>;
  /** `${c}/${u}` → every move of the delivered watermark by a delivered receipt */
  deliveredAdvances: Map<string, Advance[]>;
  /** Every `${c}/${u}` the changelog mentions. */
  keys: Set<string>;
  /**
   * `${c}/${u}` → the watermarks the changelog leaves (the highest it states: the persister's
   * rows keep the highest whatever the order); not read back by storedHistory.
   */
  watermarks: Map<string, { read: number; delivered: number }>;
}

/**
 * Replays the changelog the way Redis applied it: a first join starts at the conversation's last
 * seq, a send moves the sender's watermarks, a receipt logs the watermark it moved (a read the
 * read watermark, a delivery the delivered one).
 */
export function durableModel(changes: readonly StateChange[]): DurableModel {
  return replayChangelog(changes).model;
}

/**
 * Where the changelog leaves each `${c}/${u}`'s watermarks (sends, first joins and receipts
 * together): maxima, so the same whatever order the pipeline applied the events in.
 */
export function durableWatermarks(
  changes: readonly StateChange[],
): Map<string, { read: number; delivered: number }> {
  return replayChangelog(changes).watermarks;
}

function replayChangelog(changes: readonly StateChange[]): {
  model: DurableModel;
  watermarks: Map<string, { read: number; delivered: number }>;
} {
  const model: DurableModel = {
    messages: new Map(),
    deliveredById: new Map(),
    readAdvances: new Map(),
    deliveredAdvances: new Map(),
    keys: new Set(),
    watermarks: new Map(),
  };
  const lastSeq = new Map<string, number>();
  const { watermarks } = model;
  const joined = new Set<string>();
  const push = (map: Map<string, Advance[]>, key: string, a: Advance) =>
    map.set(key, [...(map.get(key) ?? []), a]);
  for (const change of changes) {
    const c = change.conversation_id;
    const p = change.change;
    if (TypeName.MessageSent in p) {
      const m = p[TypeName.MessageSent];
      const seqs = model.messages.get(c) ?? new Set<number>();
      seqs.add(m.seq);
      model.messages.set(c, seqs);
      lastSeq.set(c, Math.max(lastSeq.get(c) ?? 0, m.seq));
      const key = `${c}/${m.sender_id}`;
      model.keys.add(key);
      const w = watermarks.get(key) ?? { read: 0, delivered: 0 };
      watermarks.set(key, {
        read: Math.max(w.read, m.seq),
        delivered: Math.max(w.delivered, m.seq),
      });
    } else if (TypeName.MemberAdded in p) {
      const key = `${c}/${p[TypeName.MemberAdded].user_id}`;
      model.keys.add(key);
      if (!joined.has(key) && (watermarks.get(key)?.read ?? 0) === 0) {
        const j = lastSeq.get(c) ?? 0;
        const w = watermarks.get(key) ?? { read: 0, delivered: 0 };
        watermarks.set(key, { read: Math.max(w.read, j), delivered: Math.max(w.delivered, j) });
        joined.add(key);
      }
    } else if (TypeName.WatermarkAdvanced in p) {
      const a = p[TypeName.WatermarkAdvanced];
      const key = `${c}/${a.user_id}`;
      model.keys.add(key);
      const w = watermarks.get(key) ?? { read: 0, delivered: 0 };
      if (a.read_seq > w.read) push(model.readAdvances, key, { seq: a.read_seq, at: a.at });
      else if (a.delivered_seq > w.delivered)
        push(model.deliveredAdvances, key, { seq: a.delivered_seq, at: a.at });
      watermarks.set(key, {
        read: Math.max(w.read, a.read_seq),
        delivered: Math.max(w.delivered, a.delivered_seq),
      });
    } else if (TypeName.MessagesDelivered in p) {
      const d = p[TypeName.MessagesDelivered];
      for (const id of d.message_ids) {
        const key = `${c}/${id}/${d.user_id}`;
        if (!model.deliveredById.has(key)) model.deliveredById.set(key, d.at);
      }
    }
  }
  return { model, watermarks };
}

/** Cassandra's history rows, in the model's shape (every row: duplicates would show). */
export async function storedHistory(
  cassandra: Client,
  durable: DurableStateReader,
  model: DurableModel,
): Promise<DurableModel> {
  const rows = async (table: string, c: string, u: string): Promise<Advance[]> =>
    (
      await cassandra.execute(
        `SELECT seq, at FROM ${table} WHERE conversation_id = ? AND user_id = ? ORDER BY seq ASC, at ASC`,
        [c, u],
        { prepare: true },
      )
    ).rows.map((r) => ({ seq: toNumber(r['seq']), at: toNumber(r['at']) }));
  const stored: DurableModel = {
    messages: new Map(),
    deliveredById: new Map(),
    readAdvances: new Map(),
    deliveredAdvances: new Map(),
    keys: model.keys,
    watermarks: new Map(),
  };
  for (const c of model.messages.keys()) {
    const seqs = new Set<number>();
    let count = 0;
    for await (const m of durable.messagesNewestFirst(c)) {
      seqs.add(m.seq);
      count++;
    }
    if (count !== seqs.size) throw new Error(`${c}: ${count} message rows for ${seqs.size} seqs`);
    stored.messages.set(c, seqs);
  }
  for (const key of model.deliveredById.keys()) {
    const [c, m, u] = key.split('/') as [string, string, string];
    const at = (await durable.messageById(c, m))?.deliveredById.get(u);
    if (at !== undefined) stored.deliveredById.set(key, at);
  }
  for (const key of model.keys) {
    const [c, u] = key.split('/') as [string, string];
    const [read, delivered] = await Promise.all([
      rows('read_advances', c, u),
      rows('delivered_advances', c, u),
    ]);
    if (read.length > 0) stored.readAdvances.set(key, read);
    if (delivered.length > 0) stored.deliveredAdvances.set(key, delivered);
  }
  return stored;
}

/**
 * Every watermark of the conversations as Cassandra holds it (the flushed watermarks, at least
 * the join seq) and as Redis holds it, `${c}/${u}` → [read, delivered]: equal when the durable
 * copy is complete.
 */
export async function watermarksBothWays(
  h: Harness,
  conversationIds: readonly string[],
): Promise<{
  cassandra: Record<string, [number, number]>;
  redis: Record<string, [number, number]>;
}> {
  const cassandra: Record<string, [number, number]> = {};
  const redis: Record<string, [number, number]> = {};
  for (const c of conversationIds) {
    const [members, joins, watermarks] = await Promise.all([
      h.durable!.members(c),
      h.durable!.joins(c),
      h.durable!.watermarks(c),
    ]);
    const { read, delivered } = effectiveWatermarks(members, joins, watermarks);
    for (const [u, r] of read) cassandra[`${c}/${u}`] = [r, delivered.get(u) ?? 0];
    const { read: redisRead, delivered: redisDelivered } = await conversationWatermarks(
      h.redis,
      h.keys,
      c,
    );
    for (const [u, r] of Object.entries(redisRead))
      redis[`${c}/${u}`] = [Number(r), Number(redisDelivered[u] ?? 0)];
  }
  return { cassandra, redis };
}
