import type { ReceiptStatus } from '../../schemas/types';
import type { ConversationState } from '../../stores/state/conversation-state';
import { conversationWrites } from '../../stores/state/conversation-writes';
import { directUpdate, TellingMarks } from './direct-update';
import type { EngineStep } from './engine-step';
import { peerOf } from './receipt-target';

/** A message of a direct chat as its reply-implied read needs it. */
export interface Reply {
  messageId: string;
  senderId: string;
  seq: number;
  /** The message's source offset: the 'told up to' mark records it, as a receipt's. */
  version: number;
  /** The sender shares reads (privacy): READ; otherwise the peer hears DELIVERED only. */
  shareRead: boolean;
}

export interface ReplyImpliedUpdate {
  /** Who is told: the peer whose messages the reply covers. */
  to: string;
  /** Who read them: the sender of the reply. */
  by: string;
  messageId: string;
  seq: number;
  status: ReceiptStatus;
}

/**
 * Direct chats: sending a message means having read (and received) what came before it — the
 * sender's own watermarks move to it (applyMessagesSent) — so the peer hears it as from a read
 * receipt up to the reply: one update for the peer's newest message it covers, above what was
 * told (directUpdate's marks, so a read receipt that comes after tells nothing twice, and one
 * that came before leaves nothing to tell). A sender who does not share reads tells DELIVERED.
 * Without it a sender who got a reply instead of a read receipt kept grey ticks for good.
 *
 * Call it after applyMessagesSent has indexed the run (a run's later messages are known, but
 * each reply reaches only up to its own seq); one result per reply, null where nothing is told.
 * A group's replies fold into its window instead (applyMessagesSent); here they tell nothing.
 */
export function replyImpliedUpdates(
  state: ConversationState,
  replies: readonly Reply[],
  step: EngineStep,
): Array<ReplyImpliedUpdate | null> {
  if (state.kind !== 'DIRECT') return replies.map(() => null);
  const marks = new TellingMarks(
    state,
    conversationWrites(state, step.writes, step.ttlSeconds),
    step,
  );
  const updates = replies.map((reply) => {
    // A deleted id never came back (applyMessagesSent moved no watermark for it).
    if (state.isDeleted(reply.messageId)) return null;
    const peer = peerOf(state.members, reply.senderId);
    const push = directUpdate(state, marks, {
      userId: reply.senderId,
      peer,
      status: reply.shareRead ? 'READ' : 'DELIVERED',
      upTo: reply.seq,
      byIds: false,
      version: reply.version,
    });
    return push && { to: peer, by: reply.senderId, ...push };
  });
  return updates;
}
