/**
 * What every server of the local stack shares: a pid file and a log file, a detached spawn (so the
 * server outlives `stack up`), a port check that refuses to start over someone else's process, a
 * health check polled until a deadline, and a stop that signals only a pid we can prove is ours.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LOCAL_STACK } from '../../config/local-stack';
import { RUN_MARKER, sinceLastRun, tailFile } from './log-tail';
import { logFile, pidFile, REPO_ROOT, runDir } from './paths';
import { findPortOwner, isPortTaken } from './ports';
import { isAlive, isOurProcess, readPidFile, sleep, waitForExit } from './proc';
import type { Progress } from './progress';

/** An error whose message tells the user what happened and how to fix it; no stack trace needed. */
export class StackError extends Error {
  constructor(
    message: string,
    readonly logTail: string[] = [],
  ) {
    super(message);
    this.name = 'StackError';
  }
}

export interface SpawnPlan {
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

export interface StartHandle {
  pid: number;
  startedAt: number;
  /** Resolves with a description ("exit code 1") if the process dies; never rejects. */
  exited: Promise<string>;
}

export type ServerState =
  | { kind: 'healthy'; pid?: number }
  | { kind: 'unhealthy'; pid: number }
  | { kind: 'down' }
  | { kind: 'foreign'; detail: string };

/** Rejects after ms; the check itself should also honour its own timeout. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const rel = (p: string): string => path.relative(REPO_ROOT, p) || p;
const MAX_LOG_BYTES = 20 * 1024 * 1024;

export abstract class ManagedServer {
  /** Also the docker-compose service name and the pid/log file name. */
  abstract readonly name: string;
  abstract readonly title: string;
  /** What clients connect to, as shown to the user. */
  abstract readonly address: string;
  /** The process name in /proc/<pid>/comm: how we recognise our own processes. */
  abstract readonly executable: 'java' | 'redis-server';
  /** Every port the server binds: all must be free (or ours) before we start it. */
  abstract readonly ports: readonly number[];
  abstract readonly startTimeoutMs: number;
  /** How long SIGTERM gets before SIGKILL. */
  readonly stopTimeoutMs: number = 30_000;

  get logFile(): string {
    return logFile(this.name);
  }

  get pidFile(): string {
    return pidFile(this.name);
  }

  /** Checks the tools this server needs; throws a StackError naming the fix. */
  abstract preflight(): void;

  /** Downloads what the server needs unless it is cached; a no-op by default. */
  async fetch(_progress: Progress): Promise<void> {}

  /** Writes config files and data directories; returns the command that runs the server. */
  protected abstract prepare(): Promise<SpawnPlan>;

  /** Resolves if the server answers a real request; should give up within timeoutMs. */
  abstract checkHealth(timeoutMs: number): Promise<void>;

  /** The pid in our pid file, if that process is alive and provably ours. */
  ourPid(): number | undefined {
    const pid = readPidFile(this.pidFile);
    return pid !== undefined && isOurProcess(pid, this.executable) ? pid : undefined;
  }

  async isHealthy(timeoutMs = 3000): Promise<boolean> {
    try {
      await withTimeout(this.checkHealth(timeoutMs), timeoutMs + 500, `${this.name} health check`);
      return true;
    } catch {
      return false;
    }
  }

  async state(): Promise<ServerState> {
    const pid = this.ourPid();
    if (pid !== undefined) {
      return (await this.isHealthy()) ? { kind: 'healthy', pid } : { kind: 'unhealthy', pid };
    }
    const taken = await this.takenPorts();
    if (taken.length === 0) return { kind: 'down' };
    // Someone else serves our port: fine for `status` if it answers (e.g. docker compose).
    if (await this.isHealthy()) return { kind: 'healthy' };
    return { kind: 'foreign', detail: taken.map((p) => this.describePort(p)).join('; ') };
  }

  /**
   * Whether another process (another checkout's stack, docker compose) serves this server's
   * ports and answers its health check: then it is used as it is, and never stopped by us.
   */
  async servedElsewhere(): Promise<boolean> {
    if (this.ourPid() !== undefined) return false;
    return (await this.takenPorts()).length > 0 && (await this.isHealthy());
  }

  /** Starts the server in the background; the caller then waits with waitUntilHealthy(). */
  async start(): Promise<StartHandle> {
    if (this.ourPid() !== undefined) throw new Error(`${this.name} is already running`);
    fs.rmSync(this.pidFile, { force: true }); // stale: that process is gone or is not ours
    const taken = await this.takenPorts();
    if (taken.length > 0) {
      throw new StackError(
        `${this.title} cannot start: ${taken.map((p) => this.describePort(p)).join('; ')}.\n` +
          `  Fix: stop that process or free the port (ticks never touches processes it did not ` +
          `start), or change the port in config/local-stack.ts.`,
      );
    }
    const plan = await this.prepare();
    return this.spawnDetached(plan);
  }

  /** Polls the health check until it passes; throws with the log's tail if it never does. */
  async waitUntilHealthy(handle?: StartHandle): Promise<void> {
    const started = handle?.startedAt ?? Date.now();
    const deadline = started + this.startTimeoutMs;
    let exited: string | undefined;
    void handle?.exited.then((how) => (exited = how));
    let lastError = 'no answer yet';
    while (Date.now() < deadline) {
      const pid = handle?.pid ?? this.ourPid();
      if (exited !== undefined || pid === undefined || !isAlive(pid)) {
        throw this.failure(`${this.title} exited during start-up (${exited ?? 'process gone'})`);
      }
      const budget = Math.min(5000, Math.max(500, deadline - Date.now()));
      try {
        await withTimeout(this.checkHealth(budget), budget + 500, 'health check');
        return;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
      // Poll fast at first (Redis is up in milliseconds), then every half second.
      const pause = Date.now() - started < 2000 ? 100 : 500;
      await sleep(Math.min(pause, Math.max(0, deadline - Date.now())));
    }
    throw this.failure(
      `${this.title} did not become healthy within ${this.startTimeoutMs / 1000}s ` +
        `(last health check: ${lastError})`,
    );
  }

  /** SIGTERM, then SIGKILL after stopTimeoutMs; only a pid that is provably ours. */
  async stop(): Promise<number | undefined> {
    const pid = this.ourPid();
    if (pid === undefined) {
      fs.rmSync(this.pidFile, { force: true });
      return undefined;
    }
    process.kill(pid, 'SIGTERM');
    if (!(await waitForExit(pid, this.stopTimeoutMs)) && isOurProcess(pid, this.executable)) {
      process.kill(pid, 'SIGKILL');
      await waitForExit(pid, 5000);
    }
    fs.rmSync(this.pidFile, { force: true });
    return pid;
  }

  private async takenPorts(): Promise<number[]> {
    const taken: number[] = [];
    for (const port of this.ports) {
      if (await isPortTaken(port, LOCAL_STACK.host)) taken.push(port);
    }
    return taken;
  }

  private describePort(port: number): string {
    const owner = findPortOwner(port);
    if (!owner) return `port ${port} is already in use by another process`;
    const orphan = isOurProcess(owner.pid, this.executable)
      ? ' (it looks like one of ours whose pid file was lost: `kill ' + owner.pid + '` stops it)'
      : '';
    return `port ${port} is already in use by pid ${owner.pid} (${owner.command.slice(0, 120)})${orphan}`;
  }

  private failure(message: string): StackError {
    return new StackError(
      `${message}\n  log: ${rel(this.logFile)}`,
      sinceLastRun(tailFile(this.logFile, 30)),
    );
  }

  private async spawnDetached(plan: SpawnPlan): Promise<StartHandle> {
    fs.mkdirSync(path.dirname(this.logFile), { recursive: true });
    fs.mkdirSync(runDir, { recursive: true });
    rotateLog(this.logFile);
    const fd = fs.openSync(this.logFile, 'a');
    fs.writeSync(fd, `\n${RUN_MARKER}${new Date().toISOString()} starting ${this.title}\n`);
    fs.writeSync(fd, `${plan.command} ${plan.args.join(' ')}\n`);
    const startedAt = Date.now();
    // detached: own session, so it survives our exit and Ctrl-C in our terminal.
    // stdio goes straight to the log file, never to a pipe that dies with us.
    const child = spawn(plan.command, plan.args, {
      cwd: plan.cwd,
      env: plan.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) =>
        resolve(signal ? `killed by ${signal}` : `exit code ${code}`),
      );
      child.once('error', (err) => resolve(err.message));
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) =>
        reject(new StackError(`${this.title}: cannot run ${plan.command}: ${err.message}`)),
      );
    });
    child.unref();
    const pid = child.pid as number;
    fs.writeFileSync(this.pidFile, `${pid}\n`);
    return { pid, startedAt, exited };
  }
}

/** Keeps one previous log so a failing start is not buried under an ever-growing file. */
function rotateLog(file: string): void {
  try {
    if (fs.statSync(file).size > MAX_LOG_BYTES) fs.renameSync(file, `${file}.1`);
  } catch {
    // no log yet
  }
}

/** A directory that must exist; returns it. */
export function ensureDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
