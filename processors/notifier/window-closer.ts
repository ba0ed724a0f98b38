import type { ProcessorContext, Punctuator } from '../../runtime/api';
import { windowReceiptsClass } from '../../runtime/metrics';
import { nextUpdateVersion } from '../engine/update-version';
import { clearWindow, collectWindow, windowDeliveredByNeeded } from '../engine/group-window';
import { countField } from '../../stores/state/stored-values';
import { aboveQuietFloors, countsOf, summariseWindow } from './group-summary';
import { windowCloseAfter, type GroupWindowing } from './group-windowing';

export interface WindowCloserOptions extends GroupWindowing {
  punctuateIntervalMs: number;
  /**
   * Most messages in one sender's summary (newest first); older ones are implied by watermarks
   * (their counts are at least the oldest listed one's).
   */
  maxMessagesPerSender: number;
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

  /** Closes the windows due by the partition's time (the clock, unless it is behind). */
  punctuate(partitions: number[], ctx: ProcessorContext): Promise<void> {
    return this.close(partitions, ctx, ctx.streamTime);
  }

  /** On shutdown every open window closes at once: senders should not wait for a restart. */
  beforeStop(partitions: number[], ctx: ProcessorContext): Promise<void> {
    return this.close(partitions, ctx, Number.MAX_SAFE_INTEGER);
  }

  private async close(partitions: number[], ctx: ProcessorContext, dueBy: number): Promise<void> {
    const { steps, windows, metrics, maxMessagesPerSender } = this.options;
    const due = await windows.due(partitions, dueBy);
    if (due.length === 0) return;
    const step = steps.of(ctx);
    const { states } = steps;
    await states.prefetch(
      ctx.partition,
      due.map((d) => d.conversationId),
    );
    // Held in memory from now until this punctuation's write lands.
    for (const d of due) step.touch(d.conversationId);
    const deliveredBy = new Map<string, string[]>();
    for (const d of due) {
      const needed = windowDeliveredByNeeded(states.get(d.conversationId), maxMessagesPerSender);
      if (needed.length > 0) deliveredBy.set(d.conversationId, needed);
    }
    if (deliveredBy.size > 0) await states.prefetch(ctx.partition, [], deliveredBy);
    const closedAt = Date.now(); // the loop below awaits nothing: one instant for all
    for (const d of due) {
      const state = states.get(d.conversationId);
      const window = collectWindow(state, maxMessagesPerSender);
      if (!window) continue;
      const windowEnd = d.at - this.options.windowGraceMs;
      metrics.windowCloseDelay.observe(Math.max(0, closedAt - windowEnd) / 1000);
      const { summaries, passed } = aboveQuietFloors(
        summariseWindow(
          d.conversationId,
          window,
          this.options.sharesReads,
          windowEnd - this.options.windowMs,
          windowEnd,
        ),
        state,
      );
      for (const field of passed) states.quietFloorPassed(ctx.partition, state, field);
      for (const { recipient, summary } of summaries) {
        // Written ahead of the summary: a redo of this close tells no lower count after it.
        for (const m of summary.messages)
          for (const [which, count] of countsOf(m))
            step.told([d.conversationId, countField(which, m.message_id), String(count)]);
        this.options.emitter.groupSummary(
          ctx,
          recipient,
          summary,
          nextUpdateVersion(state, step),
          window.sourceAt,
        );
      }
      // Counted together, so that the reduction compares the same windows. A window opened by a
      // build that did not count (null) is taken as no reduction rather than guessed.
      const size = { window_receipts: windowReceiptsClass(window.absorbed) };
      metrics.groupPushesSent.inc(size, summaries.length);
      metrics.groupPushesUnwindowed.inc(size, window.unwindowed ?? summaries.length);
      metrics.groupReceiptsAbsorbed.inc(window.absorbed);
      metrics.windowsClosed.inc(size);
      // Deleted in memory now, in Redis by this punctuation's write-behind: after the summaries
      // were produced (a crash before that closes the window again; its counts are absolute).
      clearWindow(state, window.version, step.writes);
    }
    // After the write-behind (registered first): the index forgets the windows closed here,
    // unless a later step opened one again meanwhile (memory knows: this process owns them).
    ctx.afterSend(() => {
      const nextClose = windowCloseAfter(Math.min(dueBy, Date.now()), this.options);
      return windows.reschedule(due, (conversationId) => {
        const state = states.peek(conversationId);
        // Not held: evicted, so its window was closed (a state with one open is kept).
        return state && state.window.size > 0 ? nextClose : null;
      });
    });
  }
}
