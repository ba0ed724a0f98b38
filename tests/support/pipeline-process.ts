import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Harness } from './harness';

/**
 * The pipeline in a child process of its own, so a test can SIGKILL, SIGSTOP or SIGTERM it.
 * node itself runs the processors (tsx as a loader, not as a wrapper process), so a signal hits
 * them and not a wrapper.
 */
export class PipelineProcess {
  readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(h: Harness, env: Record<string, string> = {}) {
    this.child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, '..', '..', 'scripts', 'pipeline.ts')],
      {
        env: {
          ...process.env,
          ...h.env,
          TICKS_METRICS_PORT: '0',
          TICKS_LOG_LEVEL: 'error',
          ...env,
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves when the process has exited (by itself or by a signal). */
  whenExited(): Promise<void> {
    return this.exited;
  }

  /** Sends `signal` and waits for the exit (SIGSTOP/SIGCONT return at once). */
  async signal(signal: NodeJS.Signals): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') await this.exited;
  }

  /** For `finally`: a failed wait must not leave a child running (it holds the run's stderr). */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGCONT'); // a stopped process does not act on SIGKILL until continued
    await this.signal('SIGKILL');
  }
}
