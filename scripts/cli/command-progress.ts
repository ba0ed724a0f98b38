import { SingleBar } from 'cli-progress';

/**
 * The progress bar of the operator commands (replay, rebuild, backfill): count, rate and ETA, on
 * stderr so that stdout keeps the summary. Silent when stderr is not a terminal (CI, tests).
 */
export class CommandProgress {
  private readonly bar: SingleBar;
  private readonly started = Date.now();
  private value = 0;

  constructor(
    label: string,
    private readonly unit: string,
    total: number,
  ) {
    this.bar = new SingleBar({
      format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
      barCompleteChar: '█',
      barIncompleteChar: '░',
      hideCursor: true,
      stream: process.stderr,
      etaBuffer: 50,
      fps: 5,
    });
    this.bar.start(Math.max(total, 0), 0, { rate: '0' });
  }

  setTotal(total: number): void {
    this.bar.setTotal(total);
  }

  update(value: number): void {
    this.value = value;
    this.bar.update(value, { rate: this.rate() });
  }

  increment(by = 1): void {
    this.update(this.value + by);
  }

  /** Items per second since the start. */
  rate(): string {
    const seconds = (Date.now() - this.started) / 1000;
    return seconds > 0 ? (this.value / seconds).toFixed(0) : '0';
  }

  get elapsedSeconds(): number {
    return (Date.now() - this.started) / 1000;
  }

  stop(): void {
    this.bar.stop();
  }

  get unitName(): string {
    return this.unit;
  }
}

/** The end-of-command summary on stdout: one aligned `label  value` line each. */
export function printSummary(title: string, rows: ReadonlyArray<[string, string | number]>): void {
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(title);
  for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}  ${value}`);
}
