import type { ReceiptCommand } from '../../stores/redis/conversation-store';
import type { ReceiptJob } from './receipt-job';

/**
 * A held receipt as stored in its conversation's `held` sorted set (scored by its deadline). It
 * keeps the original record, so an expired one dead-letters with its own bytes.
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

/** The entry format of the version before HeldEntry, which Redis may still hold after an upgrade. */
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
 * The entry of a job held for `reason`. The same job and reason give the same string (fields in a
 * fixed order), so a replayed receipt held again is one member of the set, not two.
 */
export function serializeHeld(job: ReceiptJob, reason: string): string {
  const r = job.record;
  const entry: HeldEntry = {
    conversationId: job.conversationId,
    userId: job.userId,
    deviceId: job.deviceId,
    occurredAt: job.occurredAt,
    command: job.command,
    deadline: job.deadline,
    reason,
    record: {
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      timestamp: r.timestamp,
      key: r.key?.toString('base64') ?? null,
      value: r.value?.toString('base64') ?? null,
    },
  };
  return JSON.stringify(entry);
}

/** The job of a held entry, in either format; `heldAs` is the entry itself, to remove it by. */
export function parseHeld(entry: string): ReceiptJob {
  const parsed = JSON.parse(entry) as HeldEntry | ShortKeyEntry;
  const h = 'c' in parsed ? fromShortKeys(parsed) : parsed;
  const r = h.record;
  return {
    conversationId: h.conversationId,
    userId: h.userId,
    deviceId: h.deviceId,
    occurredAt: h.occurredAt,
    command: h.command,
    version: Number(r.offset),
    deadline: h.deadline,
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
