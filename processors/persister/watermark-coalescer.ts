/** A member's watermarks as one changelog record left them. */
export interface WatermarkObservation {
  conversationId: string;
  userId: string;
  readSeq: number;
  deliveredSeq: number;
  /** When the change happened (epoch ms). */
  at: number;
}

/** What one flush writes for a key: each watermark only if it moved since the last flush. */
export interface CoalescedWatermark {
  conversationId: string;
  userId: string;
  readSeq: number;
  readAt: number;
  deliveredSeq: number;
  deliveredAt: number;
  writeRead: boolean;
  writeDelivered: boolean;
}

interface Pending {
  conversationId: string;
  userId: string;
  readSeq: number;
  readAt: number;
  deliveredSeq: number;
  deliveredAt: number;
}

export interface KnownWatermarks {
  readSeq: number;
  deliveredSeq: number;
}

const keyOf = (conversationId: string, userId: string) => `${conversationId}\u0000${userId}`;

/**
 * Watermarks on their way to Cassandra: between two flushes every key keeps only its highest
 * values (watermarks only move forward, so the latest is the maximum), and a flush writes each
 * key once, and only the watermark that moved. Remembers what it flushed (a bounded, least
 * recently used set) so that the next change of a key is known to be an advance or not.
 */
export class WatermarkCoalescer {
  private pending = new Map<string, Pending>();
  private readonly flushed = new Map<string, KnownWatermarks>();

  constructor(private readonly maxRemembered = 100_000) {}

  /** Keys waiting for the next flush. */
  get size(): number {
    return this.pending.size;
  }

  /** The highest values seen for a key (pending, else last flushed), if this process knows them. */
  known(conversationId: string, userId: string): KnownWatermarks | undefined {
    const key = keyOf(conversationId, userId);
    const pending = this.pending.get(key);
    const flushed = this.flushed.get(key);
    if (!pending || !flushed) return pending ?? flushed;
    return {
      readSeq: Math.max(pending.readSeq, flushed.readSeq),
      deliveredSeq: Math.max(pending.deliveredSeq, flushed.deliveredSeq),
    };
  }

  absorb(observations: Iterable<WatermarkObservation>): void {
    for (const o of observations) this.merge({ ...o, readAt: o.at, deliveredAt: o.at });
  }

  /**
   * Takes everything pending. Call markFlushed() with the result once written, or restore() if
   * the write failed.
   */
  drain(): CoalescedWatermark[] {
    const taken = this.pending;
    this.pending = new Map();
    const out: CoalescedWatermark[] = [];
    for (const [key, p] of taken) {
      const last = this.flushed.get(key);
      const writeRead = last === undefined || p.readSeq > last.readSeq;
      const writeDelivered = last === undefined || p.deliveredSeq > last.deliveredSeq;
      if (writeRead || writeDelivered) out.push({ ...p, writeRead, writeDelivered });
    }
    return out;
  }

  markFlushed(entries: readonly CoalescedWatermark[]): void {
    for (const e of entries) {
      const key = keyOf(e.conversationId, e.userId);
      const last = this.flushed.get(key);
      this.flushed.delete(key); // re-insert: most recently used last
      this.flushed.set(key, {
        readSeq: Math.max(e.readSeq, last?.readSeq ?? 0),
        deliveredSeq: Math.max(e.deliveredSeq, last?.deliveredSeq ?? 0),
      });
    }
    for (const key of this.flushed.keys()) {
      if (this.flushed.size <= this.maxRemembered) break;
      this.flushed.delete(key);
    }
  }

  /** Puts back what a failed flush took, merging with anything absorbed since. */
  restore(entries: readonly CoalescedWatermark[]): void {
    const later = [...this.pending.values()];
    this.pending = new Map();
    for (const e of [...entries, ...later]) this.merge(e);
  }

  /** Max wins; for an equal seq the first time seen (the earlier change) stays. */
  private merge(e: Pending): void {
    const key = keyOf(e.conversationId, e.userId);
    const current = this.pending.get(key);
    if (!current) {
      this.pending.set(key, {
        conversationId: e.conversationId,
        userId: e.userId,
        readSeq: e.readSeq,
        readAt: e.readAt,
        deliveredSeq: e.deliveredSeq,
        deliveredAt: e.deliveredAt,
      });
      return;
    }
    if (e.readSeq > current.readSeq) {
      current.readSeq = e.readSeq;
      current.readAt = e.readAt;
    }
    if (e.deliveredSeq > current.deliveredSeq) {
      current.deliveredSeq = e.deliveredSeq;
      current.deliveredAt = e.deliveredAt;
    }
  }
}
