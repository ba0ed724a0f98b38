import type { ReceiptCommand } from '../../stores/redis/conversation-store';
import type { ReceiptJob } from './receipt-job';

/**
 * A held receipt as stored in its conversation's `held` sorted set (scored by its deadline). It
 * keeps the original record, so an expired one dead-letters with its own bytes. This is the
 * format of the version before CompactEntry, which Redis may still hold after an upgrade.
 */
interface HeldEntry {
  conversationId: string;
  userId: string;
  deviceId: string;
  occurredAt: number;
  command: ReceiptCommand;
  deadline: number;
  /** Why it could not apply when it was held (for whoever reads Redis; the retry asks again). */
  reason: string;
  record: {
    topic: string;
    partition: number;
    offset: string;
    timestamp: number;
    /** Base64, or null for a record without one. */
    key: string | null;
    value: string | null;
  };
}

/** The entry format of the version before HeldEntry, still read after an upgrade. */
interface ShortKeyEntry {
  c: string;
  u: string;
  d: string;
  at: number;
  cmd: ReceiptCommand;
  dl: number;
  why: string;
  t: string;
  p: number;
  o: string;
  ts: number;
  k: string | null;
  v: string | null;
}

/**
 * The entry format stored now: a JSON array without field names, deadline or reason. The
 * deadline is the entry's score; leaving it (and the reason) out makes the entry a function of
 * the receipt alone, so a replayed or redelivered receipt held again is the same member of the
 * set, not a second one.
 */
type CompactEntry = [
  format: 'h3',
  conversationId: string,
  userId: string,
  deviceId: string,
  occurredAt: number,
  command: ReceiptCommand,
  topic: string,
  partition: number,
  offset: string,
  timestamp: number,
  key: string | null,
  value: string | null,
];

/** The entry of a held job: the same receipt gives the same string, whenever and why held. */
export function serializeHeld(job: ReceiptJob): string {
  const r = job.record;
  const entry: CompactEntry = [
    'h3',
    job.conversationId,
    job.userId,
    job.deviceId,
    job.occurredAt,
    job.command,
    r.topic,
    r.partition,
    r.offset,
    r.timestamp,
    r.key?.toString('base64') ?? null,
    r.value?.toString('base64') ?? null,
  ];
  return JSON.stringify(entry);
}

/**
 * The job of a held entry (any format), whose score is `deadline`; `heldAs` is the entry
 * itself, to remove it by.
 */
export function parseHeld(entry: string, deadline: number): ReceiptJob {
  const parsed = JSON.parse(entry) as CompactEntry | HeldEntry | ShortKeyEntry;
  const h = Array.isArray(parsed)
    ? fromCompact(parsed)
    : 'c' in parsed
      ? fromShortKeys(parsed)
      : parsed;
  const r = h.record;
  return {
    conversationId: h.conversationId,
    userId: h.userId,
    deviceId: h.deviceId,
    occurredAt: h.occurredAt,
    command: h.command,
    version: Number(r.offset),
    deadline,
    heldAs: entry,
    record: {
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      timestamp: r.timestamp,
      key: r.key === null ? null : Buffer.from(r.key, 'base64'),
      value: r.value === null ? null : Buffer.from(r.value, 'base64'),
    },
  };
}

/** Who a held entry is from, without decoding the rest (caps per user). */
export function heldUserOf(entry: string): string {
  const parsed = JSON.parse(entry) as CompactEntry | HeldEntry | ShortKeyEntry;
  return Array.isArray(parsed) ? parsed[2] : 'c' in parsed ? parsed.u : parsed.userId;
}

function fromCompact(e: CompactEntry): Omit<HeldEntry, 'deadline' | 'reason'> {
  const [, conversationId, userId, deviceId, occurredAt, command] = e;
  const [topic, partition, offset, timestamp, key, value] = e.slice(6) as [
    string,
    number,
    string,
    number,
    string | null,
    string | null,
  ];
  return {
    conversationId,
    userId,
    deviceId,
    occurredAt,
    command,
    record: { topic, partition, offset, timestamp, key, value },
  };
}

function fromShortKeys(h: ShortKeyEntry): HeldEntry {
  return {
    conversationId: h.c,
    userId: h.u,
    deviceId: h.d,
    occurredAt: h.at,
    command: h.cmd,
    deadline: h.dl,
    reason: h.why,
    record: { topic: h.t, partition: h.p, offset: h.o, timestamp: h.ts, key: h.k, value: h.v },
  };
}
