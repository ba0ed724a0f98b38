/**
 * Progress on stderr while we wait for slow things (downloads, JVM starts). On a terminal: one
 * spinner line rewritten in place. Elsewhere (CI, jest): a plain line every 10 s, so logs show
 * that something is still happening without filling up with spinner frames.
 */
const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class Progress {
  private readonly pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private lastPlainLine = Date.now();
  private readonly tty: boolean;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(out.isTTY) && !process.env.CI;
  }

  /** Starts counting seconds for a task; shown until done(). */
  begin(task: string): void {
    this.pending.set(task, Date.now());
    if (!this.timer) {
      this.lastPlainLine = Date.now();
      this.timer = setInterval(() => this.tick(), this.tty ? 100 : 1000);
      this.timer.unref();
    }
  }

  /** Ends a task and prints its outcome on its own line. */
  done(task: string, message: string): void {
    this.pending.delete(task);
    this.line(message);
    if (this.pending.size === 0) this.stop();
  }

  /** Seconds since begin(task), for messages. */
  elapsed(task: string): string {
    const start = this.pending.get(task);
    return start === undefined ? '' : `${((Date.now() - start) / 1000).toFixed(1)}s`;
  }

  /** Prints a line without garbling the spinner. */
  line(message: string): void {
    this.clear();
    this.out.write(`${message}\n`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private status(): string {
    const now = Date.now();
    return [...this.pending]
      .map(([task, start]) => `${task} ${Math.floor((now - start) / 1000)}s`)
      .join(', ');
  }

  private tick(): void {
    if (this.pending.size === 0) return;
    if (this.tty) {
      this.frame = (this.frame + 1) % FRAMES.length;
      this.out.write(`\r\x1b[2K${FRAMES[this.frame]} waiting for ${this.status()}`);
    } else if (Date.now() - this.lastPlainLine >= 10_000) {
      this.lastPlainLine = Date.now();
      this.out.write(`  … still waiting for ${this.status()}\n`);
    }
  }

  private clear(): void {
    if (this.tty) this.out.write('\r\x1b[2K');
  }
}
