import type { PipelineMetrics } from '../../runtime/metrics';

/** One status line from the pipeline's own counters: rates since the previous line. */
export class LiveSummary {
  private last = { at: Date.now(), events: 0, pushes: 0 };

  constructor(private readonly metrics: PipelineMetrics) {}

  async line(): Promise<string> {
    const m = this.metrics;
    const events = await m.total(m.eventsIn);
    const pushes = await m.total(m.updatesEmitted);
    const summaries = await m.total(m.updatesEmitted, { kind: 'group_summary' });
    const absorbed = await m.total(m.groupReceiptsAbsorbed);
    const hits =
      (await m.total(m.dedupe, { result: 'memory_hit' })) +
      (await m.total(m.dedupe, { result: 'aux_hit' }));
    const misses = await m.total(m.dedupe, { result: 'miss' });
    const dead = await m.total(m.deadLetters);
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.last.at) / 1000);
    const line = [
      `events/s ${fmt((events - this.last.events) / seconds)}`,
      `pushes/s ${fmt((pushes - this.last.pushes) / seconds)}`,
      `push reduction ${absorbed > 0 ? pct(1 - summaries / absorbed) : '—'} (groups: ${fmt(summaries)} summaries for ${fmt(absorbed)} receipts)`,
      `dedupe hit rate ${hits + misses > 0 ? pct(hits / (hits + misses)) : '—'}`,
      `dead letters ${fmt(dead)}`,
      `events ${fmt(events)}`,
    ].join(' | ');
    this.last = { at: now, events, pushes };
    return line;
  }
}

const fmt = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0));
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
