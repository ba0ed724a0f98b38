import type { ReceiptJob } from './receipt-job';

/** The dead-letter detail of a held receipt that never could apply: what it named, and why not. */
export function rejectionDetail(reason: string, job: ReceiptJob, waitMs: number): string {
  const what =
    job.command.type === 'read' || job.command.type === 'dlv_seq'
      ? `seq ${job.command.seq}`
      : job.command.type === 'read_id'
        ? `message ${job.command.messageId}`
        : job.command.type === 'dlv_ids'
          ? `messages ${job.command.messageIds.join(',')}`
          : 'mark as unread';
  const why =
    reason === 'NOT_A_MEMBER'
      ? `${job.userId} is not a member of ${job.conversationId}`
      : reason === 'SEQ_NOT_REACHED'
        ? `${job.conversationId} has not reached ${what}`
        : `${what} unknown in ${job.conversationId}`;
  if (reason === 'MESSAGE_DELETED')
    return `${what} deleted from ${job.conversationId}: a receipt naming only deleted messages marks nothing`;
  return `${why} after waiting ${waitMs} ms; nothing was marked`;
}
