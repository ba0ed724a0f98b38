import type { GroupMessageCounts, GroupSenderSummary } from '../../schemas/types';
import type { WindowContents } from '../../stores/redis/conversation-store';

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
