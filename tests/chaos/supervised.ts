import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/**
 * A ticks service (scripts/<name>.ts) in a child process of its own, kept running as a supervisor
 * would: when it exits by itself (a crash, a failed start while a server is down) it is started
 * again after a second. The chaos scenarios signal it; kill() and stop() end the supervision.
 */
export class SupervisedService {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private supervising = false;
  /** Starts after an exit the scenario did not cause. */
  restarts = 0;
  private expectExit = false;

  constructor(
    readonly script: 'pipeline' | 'persister',
    private readonly env: Record<string, string>,
    private readonly onEvent: (what: string) => void = () => undefined,
  ) {}

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.supervising = true;
    this.expectExit = false;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, '..', '..', 'scripts', `${this.script}.ts`)],
      {
        env: {
          ...process.env,
          TICKS_METRICS_PORT: '0',
          TICKS_PERSISTER_METRICS_PORT: '0',
          TICKS_LOG_LEVEL: 'error',
          ...this.env,
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        resolve();
        if (!this.supervising || this.expectExit) return;
        this.onEvent(`${this.script} ${child.pid} exited (${signal ?? `code ${code}`}): restarted`);
        this.restarts++;
        setTimeout(() => {
          if (this.supervising && !this.running) this.start();
        }, 1000);
      }),
    );
  }

  /** Sends a signal the scenario chose; the process is not restarted (the scenario does it). */
  async signal(signal: NodeJS.Signals): Promise<void> {
    if (!this.running) return;
    this.expectExit = signal !== 'SIGSTOP' && signal !== 'SIGCONT';
    this.child!.kill(signal);
    if (this.expectExit) await this.exited;
  }

  /** SIGTERM (the service finishes its steps and commits), and no restart after it. */
  async stop(): Promise<void> {
    this.supervising = false;
    await this.signal('SIGTERM');
  }

  /** For `finally`: nothing left running. */
  async kill(): Promise<void> {
    this.supervising = false;
    if (!this.running) return;
    this.child!.kill('SIGCONT');
    await this.signal('SIGKILL');
  }
}
