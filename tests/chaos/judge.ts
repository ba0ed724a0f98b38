import type { Client } from 'cassandra-driver';
import {
  TypeName,
  type DeadLetter,
  type GroupMessageCounts,
  type MessageStatusUpdate,
  type ReceiptUpdate,
} from '../../schemas/types';
import { clientView, withoutRepeats } from '../support/client-view';
import { messageId } from './chaos-load';
import type { ReferenceModel } from './reference-model';

/** What a scenario's outputs were found to hold against the reference model. */
export interface Verdict {
  /** Messages or reads the model has and an output lacks (Redis via the API, Cassandra). */
  eventsLost: number;
  /** A watermark, status or read count beyond what was read: never allowed. */
  falseReads: number;
  /**
   * Statuses and group counts a client ends on that are behind the watermarks' truth (what
   * receipts moved, and what a member's own message read: both are told).
   */
  staleStatuses: number;
  /** Everything else that differs: unread counts, badges, versions, dead letters, API answers. */
  otherMismatches: number;
  /** The first differences, each naming where and what. */
  details: string[];
  /** How much was checked. */
  checked: Record<string, number>;
}

export function emptyVerdict(): Verdict {
  return {
    eventsLost: 0,
    falseReads: 0,
    staleStatuses: 0,
    otherMismatches: 0,
    details: [],
    checked: {},
  };
}

type Tally = 'eventsLost' | 'falseReads' | 'staleStatuses' | 'otherMismatches';

export function note(v: Verdict, tally: Tally, detail: string, count = 1): void {
  v[tally] += count;
  if (v.details.length < 40) v.details.push(`${tally}: ${detail}`);
}

export interface UnreadAnswer {
  user_id: string;
  conversations: Array<{
    conversation_id: string;
    unread: number;
    read_up_to_seq: number;
    last_seq: number;
  }>;
  badge: { count: number; sources: string[] };
}

/** Redis as the query API shows it: every user's unread counts, watermarks and badge. */
export async function judgeApi(
  v: Verdict,
  model: ReferenceModel,
  unreadOf: (user: string) => Promise<UnreadAnswer>,
): Promise<void> {
  const users = model.users();
  v.checked['users (API)'] = users.length;
  for (const user of users) {
    const answer = await unreadOf(user);
    const got = new Map(answer.conversations.map((c) => [c.conversation_id, c]));
    for (const [c, want] of model.unreadOf(user)) {
      const seen = got.get(c);
      if (!seen) {
        note(v, 'eventsLost', `API: ${user} has no ${c} (expected ${JSON.stringify(want)})`);
        continue;
      }
      if (seen.last_seq < want.lastSeq)
        note(
          v,
          'eventsLost',
          `API: ${c} last_seq ${seen.last_seq} < ${want.lastSeq}`,
          want.lastSeq - seen.last_seq,
        );
      if (seen.read_up_to_seq < want.readUpToSeq)
        note(
          v,
          'eventsLost',
          `API: ${c}/${user} read_up_to_seq ${seen.read_up_to_seq} < ${want.readUpToSeq}`,
        );
      if (seen.read_up_to_seq > want.readUpToSeq)
        note(
          v,
          'falseReads',
          `API: ${c}/${user} read_up_to_seq ${seen.read_up_to_seq} > ${want.readUpToSeq}`,
        );
      if (seen.last_seq > want.lastSeq)
        note(v, 'otherMismatches', `API: ${c} last_seq ${seen.last_seq} > ${want.lastSeq}`);
      if (seen.unread !== want.unread)
        note(
          v,
          'otherMismatches',
          `API: ${c}/${user} unread ${seen.unread}, expected ${want.unread}`,
        );
      got.delete(c);
    }
    for (const c of got.keys()) note(v, 'otherMismatches', `API: ${user} lists ${c}, not a member`);
    const badge = [...answer.badge.sources].sort();
    const want = model.badgeOf(user);
    if (JSON.stringify(badge) !== JSON.stringify(want))
      note(
        v,
        'otherMismatches',
        `API: badge of ${user} ${JSON.stringify(badge)}, expected ${JSON.stringify(want)}`,
      );
  }
}

interface Applied {
  version: number;
  content: string;
}

/**
 * receipt_updates as a client applies them (DESIGN.md): per user and conversation, an update with
 * a version not above the last applied one is dropped. The statuses the client ends on are
 * compared with the model: a direct chat's last READ and DELIVERED, a group message's read and
 * delivered counts (listed, or implied: an unlisted message older than a summary's oldest listed
 * one has at least its counts).
 */
export function judgeUpdates(
  v: Verdict,
  model: ReferenceModel,
  received: readonly ReceiptUpdate[],
): void {
  v.checked['receipt_updates'] = received.length;
  const updates = withoutRepeats(received);
  v.checked['exact repeats'] = received.length - updates.length;
  const view = clientView(updates);
  for (const c of view.conflicts)
    note(
      v,
      'otherMismatches',
      `updates: version ${c.first.version} twice with other content (${c.key})`,
    );
  for (const o of view.outOfOrder)
    note(
      v,
      'otherMismatches',
      `updates: ${o.conversation} version ${o.late.version} after ${o.after.version}`,
    );

  const last = new Map<string, Applied>();
  const direct = new Map<string, { read: number; delivered: number }>();
  const group = new Map<string, { read: number; delivered: number }>(); // `${user}/${c}/${seq}`
  for (const u of updates) {
    const [type, payload] = Object.entries(u.payload)[0] as [string, { conversation_id: string }];
    const key = `${u.user_id}/${payload.conversation_id}`;
    const seen = last.get(key);
    if (seen && u.version <= seen.version) continue; // dropped by the client
    last.set(key, { version: u.version, content: JSON.stringify(payload) });
    if (type === TypeName.MessageStatusUpdate) {
      const s = payload as MessageStatusUpdate;
      const shown = direct.get(key) ?? { read: 0, delivered: 0 };
      if (s.message_id !== messageId(s.conversation_id, s.seq))
        note(v, 'falseReads', `updates: ${key} ${s.status} names ${s.message_id} as seq ${s.seq}`);
      if (s.status === 'READ') shown.read = s.seq;
      else shown.delivered = s.seq;
      direct.set(key, shown);
    } else if (type === TypeName.GroupSenderSummary || type === TypeName.GroupSummary) {
      const messages =
        type === TypeName.GroupSummary
          ? [payload as unknown as GroupMessageCounts]
          : (payload as unknown as { messages: GroupMessageCounts[] }).messages;
      const oldest = messages.reduce((a, b) => (b.seq < a.seq ? b : a), messages[0]!);
      for (const m of messages) raise(group, `${key}/${m.seq}`, m.read_count, m.delivered_count);
      for (const seq of model.seqsOf(payload.conversation_id, u.user_id))
        if (seq < oldest.seq)
          raise(group, `${key}/${seq}`, oldest.read_count, oldest.delivered_count);
    }
  }

  let statuses = 0;
  for (const c of model.conversationIds()) {
    const { kind, members } = model.conversation(c);
    for (const sender of members) {
      const key = `${sender}/${c}`;
      if (kind === 'DIRECT') {
        statuses++;
        const want = model.directStatus(c, sender);
        const shown = direct.get(key) ?? { read: 0, delivered: 0 };
        compare(v, `direct ${key} READ`, shown.read, want.read);
        const delivered = Math.max(shown.read, shown.delivered);
        compare(v, `direct ${key} DELIVERED`, delivered, want.delivered);
        continue;
      }
      for (const seq of model.seqsOf(c, sender)) {
        statuses++;
        const want = model.groupCounts(c, seq);
        const shown = group.get(`${key}/${seq}`) ?? { read: 0, delivered: 0 };
        compare(v, `group ${key}/${seq} read_count`, shown.read, want.read);
        compare(v, `group ${key}/${seq} delivered_count`, shown.delivered, want.delivered);
      }
    }
  }
  v.checked['final statuses'] = statuses;
}

function raise(
  map: Map<string, { read: number; delivered: number }>,
  key: string,
  read: number,
  delivered: number,
): void {
  const seen = map.get(key) ?? { read: 0, delivered: 0 };
  map.set(key, { read: Math.max(seen.read, read), delivered: Math.max(seen.delivered, delivered) });
}

function compare(v: Verdict, what: string, shown: number, truth: number): void {
  if (shown < truth) note(v, 'staleStatuses', `updates: ${what} ${shown} < ${truth}`);
  else if (shown > truth) note(v, 'falseReads', `updates: ${what} ${shown} > ${truth}`);
}

/**
 * dead_letters: every record of `expected` (original bytes, hex) is there; nothing else is, but
 * what `tolerated` lists (fuzzed records that may happen to decode into a valid event).
 */
export function judgeDeadLetters(
  v: Verdict,
  deadLetters: readonly DeadLetter[],
  expected: ReadonlySet<string>,
  tolerated: ReadonlySet<string> = new Set(),
): void {
  v.checked['dead letters'] = deadLetters.length;
  const seen = new Set<string>();
  let unexpected = 0;
  for (const d of deadLetters) {
    const hex = d.value?.toString('hex') ?? '';
    if (expected.has(hex)) seen.add(hex);
    else if (!tolerated.has(hex)) {
      unexpected++;
      if (unexpected <= 5)
        note(
          v,
          'otherMismatches',
          `dead letter not expected: ${d.reason} ${d.detail} (${d.source_topic}@${d.source_offset})`,
        );
    }
    if (!d.reason || !d.detail)
      note(v, 'otherMismatches', `dead letter without a reason at ${d.source_offset}`);
  }
  if (unexpected > 5) v.otherMismatches += unexpected - 5;
  const missing = expected.size - seen.size;
  if (missing > 0) note(v, 'eventsLost', `${missing} hostile records not in dead_letters`, missing);
}

/**
 * Cassandra after the persister caught up: every message row, and each member's read watermark
 * (the flushed watermark, the join seq or their own newest message, whichever is highest).
 */
export async function judgeCassandra(
  v: Verdict,
  model: ReferenceModel,
  cassandra: Client,
  keyspace: string,
): Promise<void> {
  let rows = 0;
  for (const c of model.conversationIds()) {
    const { members } = model.conversation(c);
    const messages = await all(
      cassandra,
      `SELECT seq, sender_id FROM ${keyspace}.messages WHERE conversation_id = ?`,
      [c],
    );
    const watermarks = await all(
      cassandra,
      `SELECT user_id, last_read_seq FROM ${keyspace}.watermarks WHERE conversation_id = ?`,
      [c],
    );
    const joins = await all(
      cassandra,
      `SELECT user_id, joined_seq FROM ${keyspace}.member_joins WHERE conversation_id = ?`,
      [c],
    );
    rows += messages.length + watermarks.length + joins.length;
    const stored = new Set(messages.map((r) => Number(r['seq'])));
    const want = model.seqsOf(c);
    const missing = want.filter((s) => !stored.has(s));
    if (missing.length > 0)
      note(
        v,
        'eventsLost',
        `Cassandra: ${c} lacks messages ${missing.slice(0, 5).join(',')}`,
        missing.length,
      );
    if (stored.size > want.length)
      note(
        v,
        'otherMismatches',
        `Cassandra: ${c} has ${stored.size} messages, sent ${want.length}`,
      );
    const read = new Map<string, number>();
    const up = (u: string, seq: unknown) =>
      read.set(u, Math.max(read.get(u) ?? 0, Number(seq ?? 0)));
    for (const r of watermarks) up(String(r['user_id']), r['last_read_seq']);
    for (const r of joins) up(String(r['user_id']), r['joined_seq']);
    for (const r of messages) up(String(r['sender_id']), r['seq']);
    for (const u of members) {
      const got = read.get(u) ?? 0;
      const expected = model.readWatermark(c, u);
      if (got < expected)
        note(v, 'eventsLost', `Cassandra: ${c}/${u} read watermark ${got} < ${expected}`);
      if (got > expected)
        note(v, 'falseReads', `Cassandra: ${c}/${u} read watermark ${got} > ${expected}`);
    }
  }
  v.checked['Cassandra rows'] = rows;
}

/** Every row (all pages: a group's rows may pass one page). */
async function all(
  cassandra: Client,
  cql: string,
  params: unknown[],
): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  let pageState: string | undefined;
  do {
    const page = await cassandra.execute(cql, params, {
      prepare: true,
      fetchSize: 1000,
      pageState,
    });
    out.push(...(page.rows as unknown as Array<Record<string, unknown>>));
    pageState = page.pageState ?? undefined;
  } while (pageState);
  return out;
}
