import type { ConversationEvent } from '../../schemas/types';
import { TypeName } from '../../schemas/types';
import type { MemberChange, SentMessage } from '../../stores/redis/conversation-store';
import type { DeletedMessage } from '../engine/messages-deleted';
import {
  firstProblem,
  idProblem,
  keyProblem,
  seqProblem,
  timeProblem,
  type Rejection,
} from '../validation';

/**
 * What the engine applies for a conversation event: a message, a member joining or leaving, or a
 * message deleted.
 */
export type ConversationCommand =
  | { type: 'message'; message: SentMessage }
  | { type: 'member'; change: MemberChange }
  | { type: 'delete'; deletion: DeletedMessage };

/** Turns a decoded conversation event into the command the store applies, or says why it cannot. */
export function toConversationCommand(
  event: ConversationEvent,
  key: Buffer | null,
): { command: ConversationCommand } | Rejection {
  const problem = eventProblem(event, key);
  if (problem) return { reason: 'INVALID_FIELDS', detail: problem };
  const p = event.payload;
  if (TypeName.MessageSent in p) {
    const m = p[TypeName.MessageSent];
    return {
      command: {
        type: 'message',
        message: {
          messageId: m.message_id,
          seq: m.seq,
          senderId: m.sender_id,
          kind: m.kind,
          sentAt: m.sent_at,
        },
      },
    };
  }
  if (TypeName.MessageDeleted in p)
    return {
      command: { type: 'delete', deletion: { messageId: p[TypeName.MessageDeleted].message_id } },
    };
  return {
    command: {
      type: 'member',
      change:
        TypeName.MemberAdded in p
          ? {
              op: 'add',
              userId: p[TypeName.MemberAdded].user_id,
              kind: p[TypeName.MemberAdded].kind,
            }
          : { op: 'remove', userId: p[TypeName.MemberRemoved].user_id, kind: 'GROUP' },
    },
  };
}

function eventProblem(event: ConversationEvent, key: Buffer | null): string | null {
  const p = event.payload;
  const common = firstProblem(
    idProblem('conversation_id', event.conversation_id),
    keyProblem(key, event.conversation_id),
  );
  if (common) return common;
  if (TypeName.MessageSent in p) {
    const m = p[TypeName.MessageSent];
    return firstProblem(
      idProblem('message_id', m.message_id),
      idProblem('sender_id', m.sender_id),
      seqProblem('seq', m.seq),
      timeProblem('sent_at', m.sent_at),
    );
  }
  if (TypeName.MessageDeleted in p) {
    const d = p[TypeName.MessageDeleted];
    return firstProblem(
      idProblem('message_id', d.message_id),
      idProblem('deleted_by', d.deleted_by),
      timeProblem('deleted_at', d.deleted_at),
    );
  }
  return idProblem(
    'user_id',
    TypeName.MemberAdded in p ? p[TypeName.MemberAdded].user_id : p[TypeName.MemberRemoved].user_id,
  );
}
