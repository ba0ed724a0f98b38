import { MetricsSnapshot } from './prometheus-text';
import { int, ms } from './report-format';

/** What stopped a ticks process's event loop between two reads of its /metrics. */
export interface ProcessPauses {
  /** Event-loop delay (prom-client's sampler, 10 ms resolution) since the first read. */
  lagP99Seconds: number;
  lagMaxSeconds: number;
  /** GC pause time by kind (major, minor, incremental, weakcb) and how many. */
  gc: Array<{ kind: string; seconds: number; count: number }>;
}

/** From two snapshots; the first must be read just before the interval (it restarts the lag sampler). */
export function pausesBetween(before: MetricsSnapshot, after: MetricsSnapshot): ProcessPauses {
  const gc = ['major', 'minor', 'incremental', 'weakcb'].map((kind) => ({
    kind,
    seconds: MetricsSnapshot.delta(before, after, 'ticks_nodejs_gc_duration_seconds_sum', { kind }),
    count: MetricsSnapshot.delta(before, after, 'ticks_nodejs_gc_duration_seconds_count', { kind }),
  }));
  return {
    lagP99Seconds: after.total('ticks_nodejs_eventloop_lag_p99_seconds'),
    lagMaxSeconds: after.total('ticks_nodejs_eventloop_lag_max_seconds'),
    gc: gc.filter((g) => g.count > 0),
  };
}

/** "lag p99 30 / max 51 ms; GC minor 489 ms in 64" */
export function describePauses(p: ProcessPauses): string {
  const gc = p.gc.map((c) => `${c.kind} ${ms(c.seconds * 1000)} ms in ${int(c.count)}`).join(', ');
  return `lag p99 ${ms(p.lagP99Seconds * 1000)} / max ${ms(p.lagMaxSeconds * 1000)} ms; GC ${gc || 'none'}`;
}
