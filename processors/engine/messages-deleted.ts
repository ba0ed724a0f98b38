import type { ConversationKind } from '../../schemas/types';
import type { ConversationState } from '../../stores/state/conversation-state';
import { conversationWrites } from '../../stores/state/conversation-writes';
import { formatNumber } from '../../stores/state/stored-values';
import type { EngineStep } from './engine-step';
import { refreshCore } from './refresh-core';

export interface DeletedMessage {
  messageId: string;
}

export interface MessageDeletedResult {
  /** The index knew the message: unread counts changed (false for a replay or an unknown id). */
  removed: boolean;
  kind: ConversationKind;
  /** Its seq (0 when the message was not known here). */
  seq: number;
  /** The sender (null when not known): their own unread never counted it. */
  sender: string | null;
  /**
   * Members for whom it was the last unread message (and who did not mark the conversation
   * unread): their badge loses the conversation's source.
   */
  caughtUp: string[];
  /**
   * Members whose unread count the deletion lowered (it was after their watermark), with their
   * count after it: their devices are told (an unread sync), so no badge sticks until a refetch.
   */
  recounted: Array<{ userId: string; unread: number; readUpTo: number }>;
  /** Every member of a direct chat (each one's badge source is the other); empty for a group. */
  members: string[];
  hasHeld: boolean;
}

/**
 * Deletions of one conversation's messages, in order, as if each were applied alone.
 *
 * - The id is remembered as deleted (`deleted`: id → seq), known or not, so that receipts naming
 *   it are refused (MESSAGE_DELETED) and its receipt details answer 404, whatever comes later.
 * - A message the index knows is forgotten (msg, msgs, its delivered-by hash): it stops counting
 *   as unread for everyone (unread counts are derived from the index), and nothing can be told
 *   about it any more (the direct-chat lookup and the window summaries read the index).
 * - No watermark moves, last_seq stays (seqs keep rising), the logs stay (append-only).
 * - Idempotent: the second time the index no longer knows it, and nothing changes.
 */
export function applyMessagesDeleted(
  state: ConversationState,
  deletions: readonly DeletedMessage[],
  step: EngineStep,
): MessageDeletedResult[] {
  const writes = conversationWrites(state, step.writes, step.ttlSeconds);
  const kind = state.kind ?? 'GROUP';
  const hadDeleted = state.deleted.size > 0;
  const results: MessageDeletedResult[] = [];
  // Who may have confirmed a message by id: the same for every deletion of the run.
  let everyone: Set<string> | undefined;
  for (const { messageId } of deletions) {
    const message = state.message(messageId);
    const seq = message?.seq ?? state.deleted.get(messageId) ?? 0;
    if (state.markDeleted(messageId, seq)) writes.deleted.set(messageId, formatNumber(seq));
    const result: MessageDeletedResult = {
      removed: false,
      kind,
      seq,
      sender: message?.sender ?? null,
      caughtUp: [],
      recounted: [],
      members: kind === 'DIRECT' ? [...state.members] : [],
      hasHeld: state.hasHeld,
    };
    results.push(result);
    if (!message || !state.forgetMessage(messageId)) continue;
    result.removed = true;
    writes.unindexMessage(messageId, message);
    writes.forgetDeliveredBy(messageId, (everyone ??= state.everyone()), state.olderKeys);
    for (const member of state.members) {
      const read = state.read.get(member) ?? 0;
      if (member === message.sender || read >= seq) continue;
      const unread = state.countAfter(read);
      // A member who marked the conversation unread keeps seeing at least 1, and the badge.
      const marked = state.marked.has(member);
      result.recounted.push({
        userId: member,
        unread: marked ? Math.max(1, unread) : unread,
        readUpTo: read,
      });
      if (unread === 0 && !marked) result.caughtUp.push(member);
    }
  }
  // The first deletion creates `deleted`: it joins the core keys' expiry now.
  refreshCore(state, writes, step, !hadDeleted && state.deleted.size > 0);
  return results;
}
