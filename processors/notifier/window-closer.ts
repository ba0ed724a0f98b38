import type { ConversationStore } from '../../stores/redis/conversation-store';
import type { PartitionIndex } from '../../stores/redis/partition-index';
import { runQueued } from '../../stores/redis/pipeline';
import type { PipelineMetrics } from '../../runtime/metrics';
import type { ProcessorContext, Punctuator } from '../../runtime/api';
import { summariseWindow } from './group-summary';
import type { UpdateEmitter } from './update-emitter';

export interface WindowCloserOptions {
  store: ConversationStore;
  windows: PartitionIndex;
  emitter: UpdateEmitter;
  metrics: PipelineMetrics;
  sharesReads(userId: string): boolean;
  windowMs: number;
  windowGraceMs: number;
  punctuateIntervalMs: number;
  /** Most messages summarised per window (newest first); older ones are implied by watermarks. */
  maxMessagesPerWindow: number;
}

/**
 * Closes group windows on wall-clock time, so a quiet partition still tells senders within the
 * window plus grace. Tumbling windows aligned to the epoch; a window's state lives in Redis, so
 * a crash or rebalance loses none: the summaries are produced first, the window deleted after
 * (a crash in between repeats a summary, which is harmless: its counts are absolute).
 */
export class WindowCloser implements Punctuator {
  readonly name = 'group-windows';
  readonly intervalMs: number;
  /** Windows end together (epoch-aligned): run at each end, the interval only catches stragglers. */
  readonly aligned: { everyMs: number; offsetMs: number };

  constructor(private readonly options: WindowCloserOptions) {
    this.intervalMs = options.punctuateIntervalMs;
    this.aligned = { everyMs: options.windowMs, offsetMs: options.windowGraceMs };
  }

  punctuate(partitions: number[], ctx: ProcessorContext): Promise<void> {
    return this.close(partitions, ctx, ctx.now);
  }

  /** On shutdown every open window closes at once: senders should not wait for a restart. */
  beforeStop(partitions: number[], ctx: ProcessorContext): Promise<void> {
    return this.close(partitions, ctx, Number.MAX_SAFE_INTEGER);
  }

  private async close(partitions: number[], ctx: ProcessorContext, dueBy: number): Promise<void> {
    const { store, windows, metrics } = this.options;
    const due = await windows.due(partitions, dueBy);
    if (due.length === 0) return;
    const contents = await runQueued(
      store.redis,
      due.map((d) => store.collectWindow(d.conversationId, this.options.maxMessagesPerWindow)),
    );
    const closed: Array<{ conversationId: string; partition: number; version: number }> = [];
    due.forEach((d, i) => {
      const window = contents[i];
      if (!window) {
        closed.push({ conversationId: d.conversationId, partition: d.partition, version: -1 });
        return;
      }
      const windowEnd = d.at - this.options.windowGraceMs;
      const summaries = summariseWindow(
        d.conversationId,
        window,
        this.options.sharesReads,
        windowEnd - this.options.windowMs,
        windowEnd,
      );
      for (const { recipient, summary } of summaries)
        this.options.emitter.groupSummary(ctx, recipient, summary, window.version, window.sourceAt);
      metrics.groupReceiptsAbsorbed.inc(window.absorbed);
      metrics.windowsClosed.inc();
      closed.push({
        conversationId: d.conversationId,
        partition: d.partition,
        version: window.version,
      });
    });
    ctx.afterSend(async () => {
      const withWindow = closed.filter((c) => c.version >= 0);
      const cleared = await runQueued(
        store.redis,
        withWindow.map((c) => store.clearWindow(c.conversationId, c.version)),
      );
      const stillOpen = new Set(
        withWindow.filter((_, i) => !cleared[i]).map((c) => c.conversationId),
      );
      const nextClose =
        (Math.floor(ctx.now / this.options.windowMs) + 1) * this.options.windowMs +
        this.options.windowGraceMs;
      await windows.reschedule(
        closed.map((c) => ({ ...c, at: stillOpen.has(c.conversationId) ? nextClose : null })),
      );
    });
  }
}
