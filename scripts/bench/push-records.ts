import { TypeName, type GroupMessageCounts, type ReceiptUpdate } from '../../schemas/types';

/**
 * receipt_updates records as the pipeline writes them, for loading the gateway: emitted_at is
 * when the record was made, so a client can time record → socket.
 */
function envelope(updateId: string, userId: string, version: number) {
  const now = Date.now();
  return { update_id: updateId, user_id: userId, version, source_event_at: now, emitted_at: now };
}

/** A small update: one message read. */
export function statusUpdate(updateId: string, userId: string, n: number): ReceiptUpdate {
  return {
    ...envelope(updateId, userId, n + 1),
    payload: {
      [TypeName.MessageStatusUpdate]: {
        conversation_id: `${userId}-chat`,
        message_id: `m${n}`,
        seq: n + 1,
        status: 'READ',
        by: `${userId}-peer`,
      },
    },
  } as ReceiptUpdate;
}

/** A large update (about 9 KB as a frame): a group sender summary of 100 messages. */
export function groupSummaryUpdate(updateId: string, userId: string, n: number): ReceiptUpdate {
  const messages: GroupMessageCounts[] = Array.from({ length: 100 }, (_, i) => ({
    message_id: `message-${n}-${i}`,
    seq: n * 100 + i + 1,
    status: 'DELIVERED',
    read_count: i,
    delivered_count: 150,
    total: 199,
  }));
  return {
    ...envelope(updateId, userId, n + 1),
    payload: {
      [TypeName.GroupSenderSummary]: {
        conversation_id: `${userId}-group`,
        messages,
        window_start: Date.now() - 1000,
        window_end: Date.now(),
      },
    },
  } as ReceiptUpdate;
}
