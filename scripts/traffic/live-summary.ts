import { badgeWritesPerChange, pushReduction, type PipelineMetrics } from '../../runtime/metrics';

/** What one summary line shows: rates since the previous line, the rest since the start. */
export interface LiveFigures {
  eventsPerSecond: number;
  pushesPerSecond: number;
  /** Group summaries sent (one per sender and closed window). */
  groupPushes: number;
  /** What telling each sender at every receipt, as in direct chats, would have sent. */
  groupPushesUnwindowed: number;
  /** 1 − groupPushes ÷ groupPushesUnwindowed; null before any window told anyone. */
  pushReduction: number | null;
  badgeWrites: number;
  badgeChanges: number;
  /** Main-Redis badge writes per source really added or removed; null before any change. */
  badgeWritesPerChange: number | null;
  /** Share of badge changes the dedupe marks skipped (memory or auxiliary Redis). */
  dedupeHitRate: number | null;
  deadLetters: number;
  events: number;
}

/** Printed once above the summary lines, so that a newcomer reads them right. */
export const LIVE_SUMMARY_LEGEND = [
  'Once a second (rates since the previous line, the rest since the start):',
  '  in / out        events the processors applied / updates pushed on receipt_updates',
  '  group pushes    what the 2 s group windows saved: 1 − summaries sent ÷ pushes that telling',
  '                  each sender at every receipt (the direct-chat rule) would have sent',
  '  badge writes    main-Redis badge writes per source really added to or removed from a badge,',
  '                  and the share of badge changes the dedupe marks skipped',
].join('\n');

/** One status line from the pipeline's own counters. */
export class LiveSummary {
  private last = { at: Date.now(), events: 0, pushes: 0 };

  constructor(private readonly metrics: PipelineMetrics) {}

  async figures(): Promise<LiveFigures> {
    const m = this.metrics;
    const events = await m.total(m.eventsIn);
    const pushes = await m.total(m.updatesEmitted);
    // Counted together when windows close: read them back to back.
    const groupPushes = await m.total(m.updatesEmitted, { kind: 'group_summary' });
    const groupPushesUnwindowed = await m.total(m.groupPushesUnwindowed);
    const badgeWrites = await m.total(m.mainBadgeWrites);
    const badgeChanges = await m.total(m.badgeChanges);
    const hits =
      (await m.total(m.dedupe, { result: 'memory_hit' })) +
      (await m.total(m.dedupe, { result: 'aux_hit' }));
    const checked = hits + (await m.total(m.dedupe, { result: 'miss' }));
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.last.at) / 1000);
    const figures: LiveFigures = {
      eventsPerSecond: (events - this.last.events) / seconds,
      pushesPerSecond: (pushes - this.last.pushes) / seconds,
      groupPushes,
      groupPushesUnwindowed,
      pushReduction: pushReduction(groupPushes, groupPushesUnwindowed),
      badgeWrites,
      badgeChanges,
      badgeWritesPerChange: badgeWritesPerChange(badgeWrites, badgeChanges),
      dedupeHitRate: checked > 0 ? hits / checked : null,
      deadLetters: await m.total(m.deadLetters),
      events,
    };
    this.last = { at: now, events, pushes };
    return figures;
  }

  async line(): Promise<string> {
    return formatLine(await this.figures());
  }
}

export function formatLine(f: LiveFigures): string {
  return [
    `in ${fmt(f.eventsPerSecond)} events/s`,
    `out ${fmt(f.pushesPerSecond)} pushes/s`,
    f.pushReduction === null
      ? 'group pushes: no window closed yet'
      : `group pushes ${pct(f.pushReduction)} fewer with windows (${fmt(f.groupPushes)} sent instead of ${fmt(f.groupPushesUnwindowed)})`,
    f.badgeWritesPerChange === null
      ? 'badge writes: no change yet'
      : `badge writes ${f.badgeWritesPerChange.toFixed(2)} per real change (${f.dedupeHitRate === null ? '—' : pct(f.dedupeHitRate)} skipped by dedupe)`,
    `dead letters ${fmt(f.deadLetters)}`,
    `${fmt(f.events)} events in all`,
  ].join(' | ');
}

const fmt = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0));
export const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
