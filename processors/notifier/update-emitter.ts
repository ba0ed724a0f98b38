import type { PipelineMetrics } from '../../runtime/metrics';
import type { ProcessorContext } from '../../runtime/api';
import {
  TypeName,
  type GroupSenderSummary,
  type MessageStatusUpdate,
  type ReceiptUpdate,
  type UnreadSync,
} from '../../schemas/types';

export type UpdateKind = 'direct' | 'group_summary' | 'unread_sync';

/**
 * Builds the records of `receipt_updates`, keyed by the user to notify. The version comes from the
 * conversation's own counter (processors/engine/update-version.ts): it strictly increases per
 * conversation in the order updates are decided, so a client keeps the highest and drops a stale
 * one. The update id is derived from the content and the version.
 */
export class UpdateEmitter {
  private readonly pending = new WeakMap<
    ProcessorContext,
    Array<{ kind: UpdateKind; sourceAt: number }>
  >();

  constructor(private readonly metrics: PipelineMetrics) {}

  direct(
    ctx: ProcessorContext,
    to: string,
    update: MessageStatusUpdate,
    version: number,
    sourceAt: number,
  ): void {
    this.emit(
      ctx,
      'direct',
      to,
      `d:${update.conversation_id}:${update.message_id}:${update.status}:${version}`,
      {
        [TypeName.MessageStatusUpdate]: update,
      },
      version,
      sourceAt,
    );
  }

  /** One sender's summary of a closed group window (one push however many messages). */
  groupSummary(
    ctx: ProcessorContext,
    to: string,
    summary: GroupSenderSummary,
    version: number,
    sourceAt: number,
  ): void {
    this.emit(
      ctx,
      'group_summary',
      to,
      `g:${summary.conversation_id}:${to}:${version}`,
      {
        [TypeName.GroupSenderSummary]: summary,
      },
      version,
      sourceAt,
    );
  }

  unreadSync(
    ctx: ProcessorContext,
    to: string,
    sync: UnreadSync,
    version: number,
    sourceAt: number,
  ): void {
    this.emit(
      ctx,
      'unread_sync',
      to,
      `u:${sync.conversation_id}:${to}:${version}`,
      {
        [TypeName.UnreadSync]: sync,
      },
      version,
      sourceAt,
    );
  }

  private emit(
    ctx: ProcessorContext,
    kind: UpdateKind,
    to: string,
    updateId: string,
    payload: ReceiptUpdate['payload'],
    version: number,
    sourceAt: number,
  ): void {
    const update: ReceiptUpdate = {
      update_id: updateId,
      user_id: to,
      version,
      source_event_at: sourceAt,
      emitted_at: ctx.now,
      payload,
    };
    ctx.send('receiptUpdates', to, update);
    this.metrics.updatesEmitted.inc({ kind });
    this.sent(ctx).push({ kind, sourceAt });
  }

  /** The context's updates, timed together once they are produced (one hook, not one each). */
  private sent(ctx: ProcessorContext): Array<{ kind: UpdateKind; sourceAt: number }> {
    let list = this.pending.get(ctx);
    if (!list) {
      const created: Array<{ kind: UpdateKind; sourceAt: number }> = [];
      this.pending.set(ctx, (list = created));
      ctx.afterSend(async () => {
        const now = Date.now();
        for (const u of created)
          this.metrics.eventToEmit.observe({ kind: u.kind }, Math.max(0, now - u.sourceAt) / 1000);
      });
    }
    return list;
  }
}
