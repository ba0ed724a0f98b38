/**
 * Where the receipt-details query reads from. The hot copy in Redis answers first; the durable
 * copy (Cassandra, 90 days) answers what Redis no longer holds — implement this interface over it
 * and chain the two with FallbackReceiptDetails.
 */
export interface ReceiptDetailsSource {
  readonly name: string;
  lookup(query: ReceiptDetailsQuery): Promise<ReceiptDetailsLookup>;
}

export interface ReceiptDetailsQuery {
  conversationId: string;
  messageId: string;
  /** The user asking: only members of the conversation may see its receipts. */
  viewer: string;
  /** The message's seq as the client knows it: a hint where to find it, checked, never trusted. */
  seq?: number;
}

/** One member's receipt of the message; a time is null when it is known to have happened, not when. */
export interface RecipientReceipt {
  userId: string;
  read: boolean;
  readAt: number | null;
  delivered: boolean;
  deliveredAt: number | null;
}

export type ReceiptDetailsLookup =
  /** This source knows nothing of the conversation (expired, or never there): ask the next. */
  | { status: 'no_conversation' }
  | { status: 'not_member' }
  /** The conversation is known, the message is not (expired, or never sent): ask the next. */
  | { status: 'no_message' }
  /** The message was deleted: it has no receipts to show (no other source is asked). */
  | { status: 'deleted' }
  | {
      status: 'found';
      message: { seq: number; senderId: string; sentAt: number };
      /** Every member but the sender, as this source saw them; privacy is applied by the caller. */
      recipients: RecipientReceipt[];
    };

/** Asks each source in turn until one knows the message (Redis first, then the durable store). */
export class FallbackReceiptDetails implements ReceiptDetailsSource {
  readonly name: string;
  private readonly sources: ReceiptDetailsSource[];

  constructor(...sources: ReceiptDetailsSource[]) {
    if (sources.length === 0) throw new Error('FallbackReceiptDetails needs at least one source');
    this.sources = sources;
    this.name = sources.map((s) => s.name).join('>');
  }

  async lookup(query: ReceiptDetailsQuery): Promise<ReceiptDetailsLookup> {
    let answer: ReceiptDetailsLookup = { status: 'no_conversation' };
    for (const source of this.sources) {
      const next = await source.lookup(query);
      if (next.status === 'found' || next.status === 'not_member' || next.status === 'deleted')
        return next;
      // "The conversation exists but not the message" is more precise than "nothing known".
      if (next.status === 'no_message' || answer.status === 'no_conversation') answer = next;
    }
    return answer;
  }
}
