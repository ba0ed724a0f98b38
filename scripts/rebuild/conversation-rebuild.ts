import type {
  MemberRecord,
  MessageRecord,
  WatermarkRecord,
} from '../../stores/cassandra/durable-state-reader';

export interface EffectiveWatermarks {
  read: Map<string, number>;
  delivered: Map<string, number>;
}

/**
 * What Redis held as each member's watermarks: the highest recorded advance, or the
 * conversation's last seq when they first joined (Redis set it then), whichever is higher; the
 * delivered watermark is never below the read one.
 */
export function effectiveWatermarks(
  members: readonly MemberRecord[],
  joins: ReadonlyMap<string, number>,
  watermarks: ReadonlyMap<string, WatermarkRecord>,
): EffectiveWatermarks {
  const users = new Set([...members.map((m) => m.userId), ...joins.keys(), ...watermarks.keys()]);
  const read = new Map<string, number>();
  const delivered = new Map<string, number>();
  for (const u of users) {
    const joined = joins.get(u) ?? 0;
    const w = watermarks.get(u);
    const r = Math.max(joined, w?.readSeq ?? 0);
    read.set(u, r);
    delivered.set(u, Math.max(r, joined, w?.deliveredSeq ?? 0));
  }
  return { read, delivered };
}

/**
 * Which messages go back to Redis: every message some current member has not read (so every
 * unread count is exact), and every message sent within the hot TTL (so reads and deliveries by
 * id, and receipt details, of recent messages work as before). Messages come newest first; once
 * one is both read by everyone and older than the cutoff, so are all before it.
 */
export class MessageSelection {
  readonly floor: number;

  constructor(
    currentMembers: readonly string[],
    read: ReadonlyMap<string, number>,
    private readonly cutoff: number,
  ) {
    this.floor =
      currentMembers.length === 0
        ? Number.MAX_SAFE_INTEGER
        : Math.min(...currentMembers.map((u) => read.get(u) ?? 0));
  }

  /** false: stop reading, this message and all older ones stay out. */
  keep(m: MessageRecord): boolean {
    return m.seq > this.floor || m.sentAt >= this.cutoff;
  }
}

/**
 * The unread-senders badge, derived: a current member with unread messages has the source in
 * their badge — the peer for a direct chat (whoever sent what they have not read), the
 * conversation for a group. A member who marked the conversation unread has it too (the peer, in
 * a direct chat). Exactly what the processors maintain incrementally.
 */
export function badgeSources(
  conversationId: string,
  kind: string,
  currentMembers: readonly string[],
  read: ReadonlyMap<string, number>,
  messages: readonly MessageRecord[],
  markedUnread: readonly string[] = [],
): Array<{ userId: string; source: string }> {
  const out: Array<{ userId: string; source: string }> = [];
  for (const u of currentMembers) {
    const watermark = read.get(u) ?? 0;
    // Sending moves the sender's own watermark, so what a member has not read others sent.
    const unread = messages.filter((m) => m.seq > watermark && m.senderId !== u);
    if (markedUnread.includes(u)) {
      const peer = currentMembers.find((m) => m !== u);
      const source = kind === 'DIRECT' ? peer : conversationId;
      if (source && !unread.some((m) => kind !== 'DIRECT' || m.senderId === source))
        out.push({ userId: u, source });
    }
    if (unread.length === 0) continue;
    if (kind === 'DIRECT')
      for (const source of new Set(unread.map((m) => m.senderId))) out.push({ userId: u, source });
    else out.push({ userId: u, source: conversationId });
  }
  return out;
}
