import type { GroupMessageCounts, GroupSenderSummary } from '../../schemas/types';
import type { WindowContents } from '../../stores/redis/conversation-store';
import type { ConversationState } from '../../stores/state/conversation-state';
import { countField } from '../../stores/state/stored-values';

export interface AddressedSummary {
  /** The sender of the messages, who is told. */
  recipient: string;
  summary: GroupSenderSummary;
}

/**
 * One push per sender: every message of theirs the window picked, newest first, with absolute
 * counts, so a duplicate or replayed summary is harmless. Recipients are the members other than
 * the sender; a member who does not share reads counts as delivered, never as read. A message
 * nobody received is left out, and a sender left with none is not told.
 */
export function summariseWindow(
  conversationId: string,
  window: WindowContents,
  sharesReads: (userId: string) => boolean,
  windowStart: number,
  windowEnd: number,
): AddressedSummary[] {
  const bySender = new Map<string, GroupMessageCounts[]>();
  for (const message of window.messages) {
    let total = 0;
    let readCount = 0;
    let deliveredCount = 0;
    const byIds = new Set(message.deliveredByIds);
    for (const member of window.members) {
      if (member === message.sender) continue;
      total++;
      const read = (window.reads.get(member) ?? 0) >= message.seq;
      if (read && sharesReads(member)) readCount++;
      if (read || (window.delivered.get(member) ?? 0) >= message.seq || byIds.has(member))
        deliveredCount++;
    }
    if (deliveredCount === 0) continue;
    let list = bySender.get(message.sender);
    if (!list) bySender.set(message.sender, (list = []));
    list.push({
      message_id: message.id,
      seq: message.seq,
      status: readCount > 0 ? 'READ' : 'DELIVERED',
      read_count: readCount,
      delivered_count: deliveredCount,
      total,
    });
  }
  return [...bySender].map(([recipient, messages]) => ({
    recipient,
    summary: {
      conversation_id: conversationId,
      messages: messages.sort((a, b) => b.seq - a.seq),
      window_start: windowStart,
      window_end: windowEnd,
    },
  }));
}

/**
 * The summaries without the messages whose counts an earlier incarnation may have told higher
 * (the state's quiet floors, stores/state/told-ahead.ts): a window closed again by a redo that
 * has not reached those receipts yet would take a sender's "read by 6" back to 3. A message at
 * or above its floors is told, and `passed` lists the floors it reached; a sender left with no
 * message is not told.
 */
export function aboveQuietFloors(
  summaries: readonly AddressedSummary[],
  state: ConversationState,
): { summaries: AddressedSummary[]; passed: string[] } {
  const passed: string[] = [];
  const kept: AddressedSummary[] = [];
  for (const s of summaries) {
    const messages = s.summary.messages.filter((m) => {
      const floors = countsOf(m).map(([which, count]) => {
        const field = countField(which, m.message_id);
        return { field, count, floor: state.quietBelow(field) };
      });
      if (floors.some((f) => f.count < f.floor)) return false;
      for (const f of floors) if (f.floor > 0) passed.push(f.field);
      return true;
    });
    if (messages.length === 0) continue;
    kept.push(
      messages.length === s.summary.messages.length
        ? s
        : { recipient: s.recipient, summary: { ...s.summary, messages } },
    );
  }
  return { summaries: kept, passed };
}

/** A message's two counts, by what they count (the fields they are told under: countField). */
export function countsOf(m: GroupMessageCounts): Array<['read' | 'delivered', number]> {
  return [
    ['read', m.read_count],
    ['delivered', m.delivered_count],
  ];
}
