import type { HeldReason, ReceiptCommand } from '../../stores/redis/conversation-store';
import type { ConversationState } from '../../stores/state/conversation-state';

/** What a receipt points at, resolved before anything is written (apply-receipts' first pass). */
export type ReceiptTarget =
  | { held: HeldReason }
  | {
      /** read_id is a read of its message's seq. */
      type: 'read' | 'dlv_seq' | 'dlv_ids';
      /** The seq read or delivered up to; for ids, the highest of their seqs. */
      target: number;
      /** dlv_ids (and read_id): each id with its message's seq. */
      ids: Array<[messageId: string, seq: number]>;
    };

/**
 * A seq beyond the conversation's last message is not reached yet; an id the message index does
 * not know is unknown (its message is on another topic and may come later). Either way the
 * receipt is held and marks nothing — never a false read. An id that was deleted is left out of
 * a delivery by ids; a read of it, or a delivery naming only deleted ids, is refused for good
 * (MESSAGE_DELETED: it waits for nothing). Membership is checked by the caller.
 */
export function resolveTarget(
  state: ConversationState,
  command: Exclude<ReceiptCommand, { type: 'mark_unread' }>,
  lastSeq: number,
): ReceiptTarget {
  if (command.type === 'read' || command.type === 'dlv_seq') {
    if (command.seq > lastSeq) return { held: 'SEQ_NOT_REACHED' };
    return { type: command.type, target: command.seq, ids: [] };
  }
  const messageIds = command.type === 'read_id' ? [command.messageId] : command.messageIds;
  const ids: Array<[string, number]> = [];
  let target = 0;
  let deleted = 0;
  for (const id of messageIds) {
    if (state.isDeleted(id)) {
      deleted++;
      continue;
    }
    const message = state.message(id);
    if (!message) return { held: 'UNKNOWN_MESSAGE' };
    ids.push([id, message.seq]);
    if (message.seq > target) target = message.seq;
  }
  if (deleted > 0 && ids.length === 0) return { held: 'MESSAGE_DELETED' };
  return { type: command.type === 'read_id' ? 'read' : 'dlv_ids', target, ids };
}

/**
 * A direct chat's peer of `userId`: the last other member in the set's order (as the script
 * scans SMEMBERS), '' when there is none. A direct chat has two members; with more, which one
 * is the peer depends on Redis' set order in the scripts, and on insertion order here.
 */
export function peerOf(members: Iterable<string>, userId: string): string {
  let peer = '';
  for (const member of members) if (member !== userId) peer = member;
  return peer;
}
