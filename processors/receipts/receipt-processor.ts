import type { ReceiptEvent } from '../../schemas/types';
import type { PipelineMetrics } from '../../runtime/metrics';
import type { Decoded, Processor, ProcessorContext } from '../../runtime/api';
import type { HeldReceipts } from './held-receipts';
import type { ReceiptApplier } from './receipt-applier';
import { toReceiptCommand } from './receipt-command';
import type { ReceiptJob } from './receipt-job';

export interface ReceiptProcessorOptions {
  applier: ReceiptApplier;
  held: HeldReceipts;
  metrics: PipelineMetrics;
  maxDeliveredBatch: number;
}

/**
 * Delivered and read receipts from receipt_events: checked (an invalid one goes to the dead
 * letters), applied with their effects by the ReceiptApplier, and held by HeldReceipts when they
 * cannot apply yet (their message or the reader's membership has not arrived).
 */
export class ReceiptProcessor implements Processor<ReceiptEvent> {
  readonly name = 'receipts';
  readonly source = 'receiptEvents' as const;

  constructor(private readonly options: ReceiptProcessorOptions) {}

  async process(records: Decoded<ReceiptEvent>[], ctx: ProcessorContext): Promise<void> {
    const { applier, held, metrics } = this.options;
    const jobs: ReceiptJob[] = [];
    for (const { record, value } of records) {
      const checked = toReceiptCommand(value, record.key, this.options.maxDeliveredBatch);
      if (!('command' in checked)) {
        ctx.deadLetter(record, checked.reason, checked.detail);
        metrics.eventsIn.inc({
          topic: 'receipt_events',
          type: 'receipt',
          outcome: 'dead_lettered',
        });
        continue;
      }
      jobs.push({
        conversationId: value.conversation_id,
        userId: value.user_id,
        deviceId: value.device_id,
        occurredAt: value.occurred_at,
        command: checked.command,
        version: Number(record.offset),
        record,
        deadline: held.deadlineFrom(ctx.now),
      });
    }
    if (jobs.length === 0) return;
    const results = await applier.apply(jobs, ctx);
    // Independent writes, so in one round trip's time: the effects and the held entries.
    await Promise.all([
      applier.publishEffects(jobs, results, ctx),
      held.settle(jobs, results, ctx),
    ]);
  }
}
