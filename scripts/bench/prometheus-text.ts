/** One sample of the Prometheus text format: `name{label="v",...} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The counters and gauges of a /metrics page, summed by name and matching labels. */
export class MetricsSnapshot {
  readonly samples: Sample[];

  constructor(text: string) {
    this.samples = [];
    for (const line of text.split('\n')) {
      if (line.startsWith('#')) continue;
      const m = LINE.exec(line);
      if (!m) continue;
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!;
      this.samples.push({ name: m[1]!, labels, value: Number(m[3]) });
    }
  }

  total(name: string, labels: Record<string, string> = {}): number {
    let sum = 0;
    for (const s of this.samples)
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        sum += s.value;
    return sum;
  }

  /** `later − this` for a counter. */
  static delta(
    before: MetricsSnapshot,
    after: MetricsSnapshot,
    name: string,
    labels: Record<string, string> = {},
  ): number {
    return after.total(name, labels) - before.total(name, labels);
  }
}
