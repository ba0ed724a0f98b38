import type { GroupSummary } from '../../schemas/types';
import type { WindowContents } from '../../stores/redis/conversation-store';

export interface AddressedSummary {
  /** The sender of the message, who is told. */
  recipient: string;
  summary: GroupSummary;
}

/**
 * Absolute counts for each message the window touched, so a duplicate or replayed summary is
 * harmless. Recipients are the members other than the sender; a member who does not share reads
 * counts as delivered, never as read.
 */
export function summariseWindow(
  conversationId: string,
  window: WindowContents,
  sharesReads: (userId: string) => boolean,
  windowStart: number,
  windowEnd: number,
): AddressedSummary[] {
  const summaries: AddressedSummary[] = [];
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
    summaries.push({
      recipient: message.sender,
      summary: {
        conversation_id: conversationId,
        message_id: message.id,
        seq: message.seq,
        status: readCount > 0 ? 'READ' : 'DELIVERED',
        read_count: readCount,
        delivered_count: deliveredCount,
        total,
        window_start: windowStart,
        window_end: windowEnd,
      },
    });
  }
  return summaries;
}
