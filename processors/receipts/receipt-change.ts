import { TypeName, type StateChange } from '../../schemas/types';
import type { ReceiptResult } from '../../stores/redis/conversation-store';
import type { ReceiptJob } from './receipt-job';

/**
 * The changelog entry of an applied receipt, for the persister's Cassandra rows: the ids a
 * delivered-by-ids receipt newly marked, or else the user's watermarks as it left them.
 */
export function receiptChange(
  job: ReceiptJob,
  result: Extract<ReceiptResult, { applied: true }>,
): StateChange {
  const change: StateChange['change'] =
    job.command.type === 'dlv_ids'
      ? {
          [TypeName.MessagesDelivered]: {
            user_id: job.userId,
            message_ids: result.newlyDeliveredIds,
            at: job.occurredAt,
          },
        }
      : {
          [TypeName.WatermarkAdvanced]: {
            user_id: job.userId,
            read_seq: result.read,
            delivered_seq: result.delivered,
            at: job.occurredAt,
          },
        };
  return { conversation_id: job.conversationId, source_offset: job.version, change };
}

/** The changelog entry of a mark-as-unread flag set by `job`, or cleared by its read. */
export function unreadMarkChange(job: ReceiptJob, marked: boolean): StateChange {
  return {
    conversation_id: job.conversationId,
    source_offset: job.version,
    change: { [TypeName.UnreadMarked]: { user_id: job.userId, marked, at: job.occurredAt } },
  };
}
