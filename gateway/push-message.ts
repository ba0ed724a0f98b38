import {
  TypeName,
  senderSummaryOf,
  type GroupMessageCounts,
  type OfflineUpdate,
  type ReceiptUpdate,
  type ReceiptUpdatePayload,
} from '../schemas/types';

/**
 * What the gateway sends on a WebSocket, as JSON text frames. The first frame is `hello`; every
 * receipt update is one frame whose `type` says what it is. An offline batch carries the updates
 * coalesced while the user had no device connected, oldest first, in the same shapes.
 */
export type PushMessage =
  | { type: 'hello'; user_id: string; device_id: string }
  | (UpdateEnvelope & PushedUpdate)
  | (UpdateEnvelope & { type: 'offline_batch'; updates: PushedUpdate[] });

interface UpdateEnvelope {
  /** Same id for a redelivered update: drop one you have seen. */
  update_id: string;
  /** Increases per conversation: ignore an update older than the last one applied. */
  version: number;
  source_event_at: number;
  emitted_at: number;
}

export type PushedUpdate =
  | {
      type: 'message_status';
      conversation_id: string;
      message_id: string;
      seq: number;
      status: 'DELIVERED' | 'READ';
      by: string;
    }
  | {
      /**
       * Groups: one per sender per closed window, every message of theirs it changed, newest
       * first (a GroupSummary record of an earlier build comes as one of one message).
       */
      type: 'group_sender_summary';
      conversation_id: string;
      messages: GroupMessageCounts[];
      window_start: number;
      window_end: number;
    }
  | {
      type: 'unread_sync';
      conversation_id: string;
      unread_count: number;
      badge_count: number;
      read_up_to_seq: number;
      origin_device_id: string | null;
    };

export function toPushMessage(update: ReceiptUpdate): PushMessage {
  const envelope: UpdateEnvelope = {
    update_id: update.update_id,
    version: update.version,
    source_event_at: update.source_event_at,
    emitted_at: update.emitted_at,
  };
  const p: ReceiptUpdatePayload = update.payload;
  if (TypeName.OfflineBatch in p)
    return {
      ...envelope,
      type: 'offline_batch',
      updates: p[TypeName.OfflineBatch].updates.map(toPushedUpdate),
    };
  return { ...envelope, ...toPushedUpdate(p) };
}

function toPushedUpdate(p: OfflineUpdate): PushedUpdate {
  if (TypeName.MessageStatusUpdate in p)
    return { type: 'message_status', ...p[TypeName.MessageStatusUpdate] };
  if (TypeName.GroupSenderSummary in p)
    return { type: 'group_sender_summary', ...p[TypeName.GroupSenderSummary] };
  if (TypeName.GroupSummary in p)
    return { type: 'group_sender_summary', ...senderSummaryOf(p[TypeName.GroupSummary]) };
  return { type: 'unread_sync', ...p[TypeName.UnreadSync] };
}

/** The device that caused an unread sync already knows: it need not be told. */
export function skipsDevice(message: PushMessage, deviceId: string): boolean {
  return message.type === 'unread_sync' && message.origin_device_id === deviceId;
}
