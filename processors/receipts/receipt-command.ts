import type { ReceiptCommand } from '../../stores/redis/conversation-store';
import { TypeName, type ReceiptEvent } from '../../schemas/types';
import { firstProblem, idProblem, keyProblem, seqProblem, type Rejection } from '../validation';

/** Turns a decoded receipt event into the command the store applies, or says why it cannot. */
export function toReceiptCommand(
  event: ReceiptEvent,
  key: Buffer | null,
  maxDeliveredBatch: number,
): { command: ReceiptCommand } | Rejection {
  const common = firstProblem(
    idProblem('conversation_id', event.conversation_id),
    idProblem('user_id', event.user_id),
    idProblem('device_id', event.device_id),
    keyProblem(key, event.conversation_id),
  );
  if (common) return { reason: 'INVALID_FIELDS', detail: common };

  const payload = event.payload;
  if (TypeName.ReadUpTo in payload) {
    const { seq, message_id } = payload[TypeName.ReadUpTo];
    if ((seq === null) === (message_id === null))
      return {
        reason: 'INVALID_FIELDS',
        detail: 'ReadUpTo needs exactly one of seq and message_id',
      };
    if (seq !== null) {
      const problem = seqProblem('seq', seq);
      return problem
        ? { reason: 'INVALID_FIELDS', detail: problem }
        : { command: { type: 'read', seq } };
    }
    const problem = idProblem('message_id', message_id!);
    return problem
      ? { reason: 'INVALID_FIELDS', detail: problem }
      : { command: { type: 'read_id', messageId: message_id! } };
  }

  if (TypeName.MarkedUnread in payload) return { command: { type: 'mark_unread' } };

  const { message_ids, up_to_seq } = payload[TypeName.Delivered];
  if ((message_ids === null) === (up_to_seq === null))
    return {
      reason: 'INVALID_FIELDS',
      detail: 'Delivered needs exactly one of message_ids and up_to_seq',
    };
  if (up_to_seq !== null) {
    const problem = seqProblem('up_to_seq', up_to_seq);
    return problem
      ? { reason: 'INVALID_FIELDS', detail: problem }
      : { command: { type: 'dlv_seq', seq: up_to_seq } };
  }
  const ids = message_ids!;
  if (ids.length === 0)
    return { reason: 'INVALID_FIELDS', detail: 'Delivered.message_ids is empty' };
  if (ids.length > maxDeliveredBatch)
    return {
      reason: 'OVERSIZED_BATCH',
      detail: `Delivered.message_ids has ${ids.length} ids, the limit is ${maxDeliveredBatch} (TICKS_MAX_DELIVERED_BATCH)`,
    };
  const problem = firstProblem(...ids.map((id, i) => idProblem(`message_ids[${i}]`, id)));
  return problem
    ? { reason: 'INVALID_FIELDS', detail: problem }
    : { command: { type: 'dlv_ids', messageIds: [...new Set(ids)] } };
}
