import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import { DIST } from '../build';
import { memoryOf } from './process-stats';

const ROOT = path.resolve(__dirname, '..', '..');

export interface PipelineProcessOptions {
  /** TICKS_* variables of the run (topic prefix, key prefix, group id...). */
  env: Record<string, string>;
  /** Directory for a V8 CPU profile (node --cpu-prof), written when the process exits. */
  cpuProfileDir?: string;
  /** Extra node flags (e.g. --max-old-space-size). */
  nodeFlags?: string[];
  /** File that receives the process's log (stderr). */
  logFile?: string;
  /** Which compiled script runs (dist/scripts/<script>.js): the pipeline unless given (e.g. api). */
  script?: string;
  /** Arguments of the script. */
  args?: string[];
  /** The variable that sets its metrics port (default: TICKS_METRICS_PORT). */
  metricsPortVariable?: string;
}

/**
 * The processors as they are deployed: `scripts/pipeline.ts` in a Node process of its own, so its
 * CPU, peak RSS and profile are the pipeline's alone. Counters come from its /metrics endpoint.
 * Another deployable (`script: 'api'`: the query API and the gateway) runs the same way.
 */
export class PipelineProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  private stderrTail: string[] = [];
  metricsPort = 0;

  constructor(private readonly options: PipelineProcessOptions) {}

  private get script(): string {
    return this.options.script ?? 'pipeline';
  }

  get pid(): number {
    if (!this.child?.pid) throw new Error(`the ${this.script} process is not running`);
    return this.child.pid;
  }

  async start(): Promise<void> {
    this.metricsPort = await freePort();
    const flags = [...(this.options.nodeFlags ?? [])];
    if (this.options.cpuProfileDir)
      flags.push('--cpu-prof', `--cpu-prof-dir=${this.options.cpuProfileDir}`);
    // The compiled pipeline (`buildDist()` first), as `npm run pipeline` runs it: no TypeScript
    // loader in the measured process.
    const entry = path.join(DIST, 'scripts', `${this.script}.js`);
    const child = spawn(process.execPath, [...flags, entry, ...(this.options.args ?? [])], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...this.options.env,
        [this.options.metricsPortVariable ?? 'TICKS_METRICS_PORT']: String(this.metricsPort),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    // Never outlive the bench (Ctrl-C, a crash): a stray process would keep consuming.
    const orphanGuard = () => child.kill('SIGKILL');
    process.once('exit', orphanGuard);
    child.once('exit', () => process.removeListener('exit', orphanGuard));
    child.stderr!.setEncoding('utf8');
    const log = this.options.logFile ? createWriteStream(this.options.logFile) : undefined;
    child.stderr!.on('data', (chunk: string) => {
      log?.write(chunk);
      this.stderrTail.push(chunk);
      if (this.stderrTail.length > 50) this.stderrTail.shift();
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`the ${this.script} process exited (${child.exitCode}): ${this.stderr()}`);
      try {
        await this.metricsText();
        return;
      } catch {
        if (Date.now() > deadline)
          throw new Error(`the ${this.script} process did not start: ${this.stderr()}`);
        await sleep(200);
      }
    }
  }

  /** Peak and current RSS of the process. */
  memory(): { peakRss: number; rss: number } {
    return memoryOf(this.pid) ?? { peakRss: 0, rss: 0 };
  }

  /** The Prometheus text of its /metrics. */
  metricsText(): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: this.metricsPort, path: '/metrics', timeout: 10_000 },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () =>
            res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('metrics timed out')));
      req.end();
    });
  }

  /** SIGTERM: the process finishes its batch (the persister flushes), commits, leaves the group and exits. */
  async stop(): Promise<number | null> {
    if (!this.child || this.child.exitCode !== null) return this.child?.exitCode ?? null;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 30_000);
    const code = await this.exited!;
    clearTimeout(timer);
    return code;
  }

  stderr(): string {
    return this.stderrTail.join('').slice(-4000);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
