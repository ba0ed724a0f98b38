/**
 * The product rules of DESIGN.md, written again from the spec alone (it imports nothing of ticks):
 * what every client-visible output must say once the events a chaos scenario published are all
 * applied. The load only makes events whose final effect does not depend on the order the two
 * input topics are read in (members join before any traffic, seqs rise by one, receipts name
 * seqs already sent), so one final truth exists, however the pipeline was interrupted.
 */
export type Kind = 'DIRECT' | 'GROUP';

interface ModelConversation {
  id: string;
  kind: Kind;
  members: string[];
  /** seq → sender (seqs 1..lastSeq, no gaps) */
  senders: string[];
  /** user → highest seq read (a read, or their own message) */
  read: Map<string, number>;
  /** user → highest seq delivered to a device (a delivery up to a seq, or their own message) */
  delivered: Map<string, number>;
}

/** What a client must end on for one (user, conversation). */
export interface ExpectedUnread {
  unread: number;
  readUpToSeq: number;
  lastSeq: number;
}

export class ReferenceModel {
  private readonly conversations = new Map<string, ModelConversation>();
  /** Events recorded, for the table's "load held". */
  events = 0;

  addConversation(id: string, kind: Kind, members: readonly string[]): void {
    if (this.conversations.has(id)) throw new Error(`conversation ${id} added twice`);
    if (kind === 'DIRECT' && members.length !== 2) throw new Error(`${id}: a direct chat has two`);
    this.conversations.set(id, {
      id,
      kind,
      members: [...members],
      senders: [],
      read: new Map(),
      delivered: new Map(),
    });
    this.events += members.length;
  }

  /** The next message of a conversation; returns its seq. */
  send(conversationId: string, sender: string): number {
    const c = this.get(conversationId);
    c.senders.push(sender);
    const seq = c.senders.length;
    c.read.set(sender, seq); // sending moves the sender's own watermarks to the message
    c.delivered.set(sender, seq);
    this.events++;
    return seq;
  }

  markRead(conversationId: string, user: string, seq: number): void {
    const c = this.get(conversationId);
    this.checkReached(c, seq);
    c.read.set(user, Math.max(c.read.get(user) ?? 0, seq));
    this.events++;
  }

  markDelivered(conversationId: string, user: string, upToSeq: number): void {
    const c = this.get(conversationId);
    this.checkReached(c, upToSeq);
    c.delivered.set(user, Math.max(c.delivered.get(user) ?? 0, upToSeq));
    this.events++;
  }

  lastSeq(conversationId: string): number {
    return this.get(conversationId).senders.length;
  }

  conversationIds(): string[] {
    return [...this.conversations.keys()];
  }

  conversation(id: string): { kind: Kind; members: readonly string[]; lastSeq: number } {
    const c = this.get(id);
    return { kind: c.kind, members: c.members, lastSeq: c.senders.length };
  }

  users(): string[] {
    return [...new Set([...this.conversations.values()].flatMap((c) => c.members))].sort();
  }

  /** Per conversation of the user: unread = messages after the read watermark. */
  unreadOf(user: string): Map<string, ExpectedUnread> {
    const out = new Map<string, ExpectedUnread>();
    for (const c of this.conversations.values()) {
      if (!c.members.includes(user)) continue;
      const readUpToSeq = this.readOf(c, user);
      out.set(c.id, {
        unread: c.senders.length - readUpToSeq,
        readUpToSeq,
        lastSeq: c.senders.length,
      });
    }
    return out;
  }

  /** The unread-senders badge: the peer of a direct chat, a group's id, when anything is unread. */
  badgeOf(user: string): string[] {
    const sources = new Set<string>();
    for (const c of this.conversations.values()) {
      if (!c.members.includes(user) || this.readOf(c, user) >= c.senders.length) continue;
      sources.add(c.kind === 'DIRECT' ? c.members.find((m) => m !== user)! : c.id);
    }
    return [...sources].sort();
  }

  readWatermark(conversationId: string, user: string): number {
    return this.readOf(this.get(conversationId), user);
  }

  /**
   * A direct chat, as its sender must end up seeing it: the newest of the sender's messages the
   * peer has read, and the newest the peer's devices received (reading implies receiving); 0 when
   * none. The peer's own message counts as read up to it (sending reads what came before: their
   * watermark moves, and ticks tells the sender so, as a read receipt would).
   */
  directStatus(conversationId: string, sender: string): { read: number; delivered: number } {
    const c = this.get(conversationId);
    const peer = c.members.find((m) => m !== sender)!;
    const read = this.readOf(c, peer);
    return {
      read: this.newestOf(c, sender, read),
      delivered: this.newestOf(c, sender, Math.max(read, c.delivered.get(peer) ?? 0)),
    };
  }

  /**
   * A group message's absolute counts: members but the sender who read / received it. Every move
   * of a watermark is told, a member's own message's too (what sending read folds into the window
   * like a receipt).
   */
  groupCounts(
    conversationId: string,
    seq: number,
  ): { sender: string; read: number; delivered: number; total: number } {
    const c = this.get(conversationId);
    const sender = c.senders[seq - 1]!;
    let read = 0;
    let delivered = 0;
    for (const m of c.members) {
      if (m === sender) continue;
      const r = this.readOf(c, m);
      if (r >= seq) read++;
      if (Math.max(r, c.delivered.get(m) ?? 0) >= seq) delivered++;
    }
    return { sender, read, delivered, total: c.members.length - 1 };
  }

  /** Seqs of a conversation's messages sent by `sender`. */
  seqsOf(conversationId: string, sender?: string): number[] {
    const c = this.get(conversationId);
    return c.senders.flatMap((s, i) => (sender === undefined || s === sender ? [i + 1] : []));
  }

  private readOf(c: ModelConversation, user: string): number {
    return c.read.get(user) ?? 0;
  }

  private newestOf(c: ModelConversation, sender: string, upTo: number): number {
    for (let seq = Math.min(upTo, c.senders.length); seq >= 1; seq--)
      if (c.senders[seq - 1] === sender) return seq;
    return 0;
  }

  private checkReached(c: ModelConversation, seq: number): void {
    if (seq < 1 || seq > c.senders.length)
      throw new Error(`${c.id}: a receipt for seq ${seq}, sent ${c.senders.length}`);
  }

  private get(id: string): ModelConversation {
    const c = this.conversations.get(id);
    if (!c) throw new Error(`unknown conversation ${id}`);
    return c;
  }
}
