import type { BenchResult } from './bench-run';
import type { DrainSample } from './drain-meter';

const W = 1000;
const H = 440;
const PANEL_W = 400;
const PANEL_H = 280;
const TOP = 70;
const COLORS = { baseline: '#8a8a8a', ticks: '#1f6feb', direct: '#1f6feb', group: '#d97706' };

/** Events/s over time (one point per ≥ 1 s step), seconds since the first commit. */
export function rateSeries(samples: DrainSample[]): Array<[number, number]> {
  const first = samples.findIndex((s) => s.committed > 0);
  if (first < 0) return [];
  const t0 = samples[first]!.t;
  const out: Array<[number, number]> = [];
  let prev = samples[first]!;
  for (const s of samples.slice(first + 1)) {
    if (s.t - prev.t < 1000 && s !== samples[samples.length - 1]) continue;
    out.push([(s.t - t0) / 1000, ((s.committed - prev.committed) / (s.t - prev.t)) * 1000]);
    prev = s;
  }
  return out;
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function polyline(points: Array<[number, number]>, color: string, dash = ''): string {
  if (points.length === 0) return '';
  const d = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  return `<polyline fill="none" stroke="${color}" stroke-width="2" ${dash ? `stroke-dasharray="${dash}"` : ''} points="${d}"/>`;
}

/**
 * The bench as a picture: throughput over time of the baseline and of ticks (left), and the
 * latency CDF of direct updates and group summaries at the fixed offered load (right, log x).
 */
export function benchChart(r: BenchResult): string {
  const parts: string[] = [];
  const title = `ticks bench — ${r.finishedAt.slice(0, 16).replace('T', ' ')} UTC, ${r.machine.cpus} cores, ${r.workload.inputEvents.toLocaleString('en-US')} events`;
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  );

  // Left: throughput.
  const x0 = 70;
  const base = rateSeries(r.series.baseline);
  const ticks = rateSeries(r.series.ticks);
  const maxT = niceMax(Math.max(1, ...base.map((p) => p[0]), ...ticks.map((p) => p[0])));
  // Log scale: the baseline and ticks differ by more than an order of magnitude.
  const decades = Math.max(
    3,
    Math.ceil(Math.log10(Math.max(1, ...base.map((p) => p[1]), ...ticks.map((p) => p[1])))),
  );
  const sx = (t: number) => x0 + (t / maxT) * PANEL_W;
  const sy = (v: number) =>
    TOP + PANEL_H - ((Math.log10(Math.max(v, 100)) - 2) / (decades - 2)) * PANEL_H;
  parts.push(panelFrame(x0, 'throughput over time (events/s, log)', 'seconds since first commit'));
  for (let d = 2; d <= decades; d++) {
    const v = 10 ** d;
    const label = v >= 1e6 ? `${v / 1e6}M` : v >= 1000 ? `${v / 1000}k` : String(v);
    parts.push(
      `<line x1="${x0}" x2="${x0 + PANEL_W}" y1="${sy(v)}" y2="${sy(v)}" stroke="#eee"/>`,
      `<text x="${x0 - 6}" y="${sy(v) + 4}" text-anchor="end">${label}</text>`,
    );
  }
  for (let i = 0; i <= 5; i++) {
    const t = (maxT * i) / 5;
    parts.push(
      `<text x="${sx(t)}" y="${TOP + PANEL_H + 16}" text-anchor="middle">${Math.round(t)}</text>`,
    );
  }
  parts.push(
    polyline(
      base.map(([t, v]) => [sx(t), sy(v)]),
      COLORS.baseline,
      '6 4',
    ),
  );
  parts.push(
    polyline(
      ticks.map(([t, v]) => [sx(t), sy(v)]),
      COLORS.ticks,
    ),
  );
  parts.push(
    legend(x0 + 10, TOP + PANEL_H - 30, [
      [
        COLORS.baseline,
        `kafkajs baseline: ${Math.round(r.baseline.eventsPerSecond).toLocaleString('en-US')}/s`,
      ],
      [
        COLORS.ticks,
        `ticks: ${Math.round(r.ticks.eventsPerSecond).toLocaleString('en-US')}/s (×${r.ticks.ratioToBaseline.toFixed(2)})`,
      ],
    ]),
  );

  // Right: latency CDF, log x from 1 ms to 10 s.
  const x1 = x0 + PANEL_W + 100;
  const lx = (msv: number) => x1 + ((Math.log10(Math.max(1, msv)) - 0) / 4) * PANEL_W;
  const ly = (q: number) => TOP + PANEL_H - q * PANEL_H;
  parts.push(
    panelFrame(
      x1,
      `latency CDF at ${r.latency.offeredRate.toLocaleString('en-US')} events/s`,
      'event → update produced (ms, log)',
    ),
  );
  for (const msv of [1, 10, 100, 1000, 10000]) {
    parts.push(
      `<line x1="${lx(msv)}" x2="${lx(msv)}" y1="${TOP}" y2="${TOP + PANEL_H}" stroke="#eee"/>`,
      `<text x="${lx(msv)}" y="${TOP + PANEL_H + 16}" text-anchor="middle">${msv >= 1000 ? `${msv / 1000}s` : msv}</text>`,
    );
  }
  for (const q of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(
      `<line x1="${x1}" x2="${x1 + PANEL_W}" y1="${ly(q)}" y2="${ly(q)}" stroke="#eee"/>`,
      `<text x="${x1 - 6}" y="${ly(q) + 4}" text-anchor="end">${Math.round(q * 100)}%</text>`,
    );
  }
  parts.push(
    `<line x1="${x1}" x2="${x1 + PANEL_W}" y1="${ly(0.99)}" y2="${ly(0.99)}" stroke="#bbb" stroke-dasharray="3 3"/>`,
    `<text x="${x1 + PANEL_W - 4}" y="${ly(0.99) + 12}" text-anchor="end" fill="#777">p99</text>`,
  );
  const step = (pts: Array<[number, number]>) =>
    pts.map(([v, q]) => [lx(v), ly(q)] as [number, number]);
  parts.push(polyline(step(r.series.latencyCdf.direct), COLORS.direct));
  parts.push(polyline(step(r.series.latencyCdf.groupSummary), COLORS.group));
  const d = r.latency.direct;
  const g = r.latency.groupSummary;
  parts.push(
    legend(x1 + 10, TOP + PANEL_H - 30, [
      [COLORS.direct, `direct: p50 ${Math.round(d.p50)} ms, p99 ${Math.round(d.p99)} ms`],
      [COLORS.group, `group summary: p50 ${Math.round(g.p50)} ms, p99 ${Math.round(g.p99)} ms`],
    ]),
  );
  parts.push(
    `<text x="${W / 2}" y="${H - 14}" text-anchor="middle" fill="#555">${esc(
      `push reduction (active windows) ${(100 * r.ratios.pushReduction.activeWindows).toFixed(1)} % · dedupe hit rate ${(100 * r.ratios.dedupe.hitRate).toFixed(1)} % · ${r.ticks.redisCommands.perEvent.toFixed(1)} Redis commands/event · ${Math.round(r.memory.redisBytesPerMessage)} B Redis/message`,
    )}</text>`,
    '</svg>',
  );
  return parts.filter(Boolean).join('\n');
}

function panelFrame(x: number, title: string, xLabel: string): string {
  return [
    `<text x="${x + PANEL_W / 2}" y="${TOP - 14}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${x}" y="${TOP}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#999"/>`,
    `<text x="${x + PANEL_W / 2}" y="${TOP + PANEL_H + 34}" text-anchor="middle" fill="#555">${esc(xLabel)}</text>`,
  ].join('\n');
}

function legend(x: number, y: number, items: Array<[string, string]>): string {
  return items
    .map(
      ([color, label], i) =>
        `<line x1="${x}" x2="${x + 22}" y1="${y + i * 18 - 4}" y2="${y + i * 18 - 4}" stroke="${color}" stroke-width="3"/>` +
        `<text x="${x + 28}" y="${y + i * 18}">${esc(label)}</text>`,
    )
    .join('\n');
}
