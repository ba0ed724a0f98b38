/**
 * `npm start`'s live summary on `npm start`'s own traffic (scripts/traffic/workload.ts, at its
 * default 2,000 events/s), through the real pipeline: the push reduction it prints is a share
 * between 0 and 100 % and the one the metrics give.
 */
import { pushReduction } from '../runtime/metrics';
import { MetricsSnapshot } from '../scripts/bench/prometheus-text';
import { formatLine, LiveSummary, pct } from '../scripts/traffic/live-summary';
import { DEFAULT_WORKLOAD, Workload } from '../scripts/traffic/workload';
import { createHarness, eventually, type Harness } from './support/harness';

describe("npm start's live summary on its own traffic", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('prints a group push reduction between 0 and 100 %, equal to the metrics’ one', async () => {
    const workload = new Workload(h.publish, DEFAULT_WORKLOAD, `${h.id}-`);
    let queued = workload.setUp();
    await h.publish.flush();
    // npm start's loop: ticks of 100 ms at 2,000 events/s, here for 6 s.
    for (let tick = 0; tick < 60; tick++) {
      const started = Date.now();
      queued += workload.step(200);
      await h.publish.flush();
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - started))));
    }
    const m = h.pipeline.metrics;
    await eventually('every event applied', async () => (await m.total(m.eventsIn)) >= queued);
    // Let the last windows close.
    await new Promise((r) => setTimeout(r, h.config.windowMs + 1000));

    const figures = await new LiveSummary(m).figures();
    const snapshot = new MetricsSnapshot(await m.registry.metrics());
    const sent = snapshot.total('ticks_updates_emitted_total', { kind: 'group_summary' });
    const unwindowed = snapshot.total('ticks_group_pushes_unwindowed_total');
    expect(workload.counts.reads).toBeGreaterThan(100);
    expect(sent).toBeGreaterThan(0);
    expect(snapshot.total('ticks_group_pushes_sent_total')).toBe(sent);
    expect(figures.pushReduction).toBe(pushReduction(sent, unwindowed));
    expect(figures.pushReduction).toBeGreaterThan(0);
    expect(figures.pushReduction).toBeLessThan(1);
    expect(formatLine(figures)).toContain(
      `group pushes ${pct(figures.pushReduction!)} fewer with windows (${sent} sent instead of`,
    );
    // Every main-Redis badge write is counted, and at most as many changed a badge.
    expect(figures.badgeWrites).toBe(snapshot.total('ticks_main_redis_badge_writes_total'));
    expect(figures.badgeWritesPerChange).toBeGreaterThanOrEqual(1);
  });
});
