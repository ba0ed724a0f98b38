import type { ConversationState } from './conversation-state';
import { evictionOrder, type Used } from './second-chance';
import { markSeq, syncField, toldFieldKind } from './stored-values';

/**
 * What a step told, as a mark: conversation, field, value — a direct chat's 'told up to' mark
 * ('r:<reader>' / 'd:<reader>' → "seq|version|message_id"), how far a user's devices were
 * told read by an unread sync (syncField → the read seq), or a group count a window close told
 * (countField → the count). The fields: stored-values.ts (toldFieldOf).
 */
export type ToldMark = [conversationId: string, field: string, value: string];

/**
 * The 'told up to' marks of steps whose updates Kafka acknowledged, kept in the process across
 * partition resets. A step's state reaches Redis only after its updates went out, so a step
 * whose write-behind was lost (a failed flush, a Redis failover, a lost lease) is redone from an
 * older state whose marks are behind what was told — and would tell the older statuses again,
 * with newer versions, after the newer ones: a client applying by version would see a READ go
 * back. Merged into a state loaded after a reset, the marks make the redo tell nothing the
 * sender has heard already, and a redone read's unread sync is not told below one told. (After
 * a crash, the next process has what the steps wrote ahead: told-ahead.ts.)
 *
 * Bounded by conversations (about least recently told first out: second-chance.ts); a mark is
 * only ever raised.
 */
interface ToldFields extends Used {
  fields: Map<string, string>;
}

export class ToldMarks {
  private readonly marks = new Map<string, ToldFields>();

  constructor(private readonly maxConversations = 50_000) {}

  /**
   * Marks whose updates were acknowledged. A group count is not kept: nothing here reads it (a
   * window close's redo is held by its quiet floors, told-ahead.ts), and a group's would grow by
   * two fields a message.
   */
  remember(marks: readonly ToldMark[]): void {
    if (marks.length === 0) return; // most steps: every step's delivery calls this
    for (const [conversationId, field, value] of marks) {
      if (toldFieldKind(field) === 'count') continue;
      let told = this.marks.get(conversationId);
      if (told) told.used = true;
      else this.marks.set(conversationId, (told = { fields: new Map(), used: false }));
      const { fields } = told;
      if (markSeq(value) > markSeq(fields.get(field))) fields.set(field, value);
    }
    if (this.marks.size > this.maxConversations)
      for (const [oldest] of evictionOrder(this.marks)) {
        this.marks.delete(oldest);
        if (this.marks.size <= this.maxConversations) break;
      }
  }

  /** Raises a state just loaded from Redis to the marks told since (in memory only). */
  raise(state: ConversationState): void {
    const fields = this.marks.get(state.conversationId)?.fields;
    if (!fields) return;
    for (const [field, value] of fields)
      if (toldFieldKind(field) === 'mark' && markSeq(value) > markSeq(state.notified.get(field)))
        state.setNotified(field, value);
  }

  /** How far an acknowledged unread sync told the user's devices they read (0: none known). */
  syncedUpTo(conversationId: string, userId: string): number {
    return markSeq(this.marks.get(conversationId)?.fields.get(syncField(userId)));
  }

  get size(): number {
    return this.marks.size;
  }
}
