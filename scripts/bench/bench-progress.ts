import { SingleBar } from 'cli-progress';

/**
 * One progress bar per phase on a terminal (cli-progress); elsewhere (CI, jest, a pipe) a plain
 * line every few seconds, so a log shows progress without filling up with redraws.
 */
export class BenchProgress {
  private bar: SingleBar | undefined;
  private total = 0;
  private label = '';
  private lastLine = 0;
  private readonly tty = Boolean(process.stderr.isTTY) && !process.env.CI;

  start(label: string, total: number, unit = 'events'): void {
    this.stop();
    this.label = label;
    this.total = total;
    this.lastLine = Date.now();
    if (this.tty) {
      this.bar = new SingleBar({
        format: `${label.padEnd(22)} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate} | {note}`,
        barsize: 28,
        hideCursor: true,
        clearOnComplete: false,
        stream: process.stderr,
      });
      this.bar.start(total, 0, { rate: '', note: '' });
    } else {
      process.stderr.write(`${label}: 0/${total} ${unit}\n`);
    }
  }

  update(value: number, rate = '', note = ''): void {
    if (this.bar) this.bar.update(Math.min(value, this.total), { rate, note });
    else if (Date.now() - this.lastLine >= 5_000) {
      this.lastLine = Date.now();
      process.stderr.write(`${this.label}: ${value}/${this.total} ${rate} ${note}\n`);
    }
  }

  stop(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = undefined;
    }
  }

  /** A line of its own (between bars). */
  note(line: string): void {
    this.stop();
    process.stderr.write(`${line}\n`);
  }
}

/** A count over milliseconds as a rate for a progress line ("12,345/s"). */
export function rate(count: number, ms: number): string {
  return ms > 0 ? `${Math.round((count / ms) * 1000).toLocaleString('en-US')}/s` : '';
}
