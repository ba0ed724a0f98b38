import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU and memory of processes and of the machine, from /proc (Linux): what each server of the
 * stack spent during a phase shows which one is the limit, and what else ran beside the bench.
 */
const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux we run on (getconf CLK_TCK)

/** CPU seconds (user + system) a process has used so far; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * Seconds a process's main thread has spent so far on a CPU, and runnable but waiting for one
 * (/proc/<pid>/schedstat, the thread group leader's): on a machine whose cores are all busy, the
 * waiting is what an event loop's latency grows with. Undefined where the kernel does not tell.
 */
export function mainThreadSchedule(pid: number): { running: number; waiting: number } | undefined {
  try {
    const [running, waiting] = readFileSync(`/proc/${pid}/schedstat`, 'utf8')
      .trim()
      .split(' ')
      .map(Number);
    if (!Number.isFinite(running) || !Number.isFinite(waiting)) return undefined;
    return { running: running! / 1e9, waiting: waiting! / 1e9 };
  } catch {
    return undefined;
  }
}

/** Peak and current resident set size of a process, in bytes. */
export function memoryOf(pid: number): { peakRss: number; rss: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { peakRss: kb('VmHWM') * 1024, rss: kb('VmRSS') * 1024 };
  } catch {
    return undefined;
  }
}

/** Busy and total CPU seconds of the whole machine so far (all cores). */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/** The pid of the process listening on a local TCP port (via `ss`), if it can be seen. */
export function pidListeningOn(port: number): number | undefined {
  try {
    const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The heaviest processes right now (`top -bn1`), for the record of what else was running. */
export function topProcesses(limit = 8): string[] {
  try {
    const out = execFileSync('top', ['-bn1', '-w', '160'], { encoding: 'utf8' });
    const lines = out.split('\n');
    const header = lines.findIndex((l) => /^\s*PID\s/.test(l));
    return lines
      .slice(header + 1, header + 1 + limit)
      .map((l) => l.trim().split(/\s+/))
      .map((f) => `${f[11] ?? '?'} (pid ${f[0]}) ${f[8]}% CPU`);
  } catch {
    return [];
  }
}

export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

/** CPU use of named processes between two points in time, in cores (1.0 = one core busy). */
export class CpuMeter {
  private start = new Map<string, number>();
  private scheduleStart = new Map<string, { running: number; waiting: number }>();
  private machineStart = machineCpu();
  private startedAt = Date.now();

  constructor(private readonly pids: Map<string, number>) {}

  begin(): void {
    this.start = new Map();
    for (const [name, pid] of this.pids) {
      const s = cpuSeconds(pid);
      if (s !== undefined) this.start.set(name, s);
      const schedule = mainThreadSchedule(pid);
      if (schedule) this.scheduleStart.set(name, schedule);
    }
    this.machineStart = machineCpu();
    this.startedAt = Date.now();
  }

  /**
   * Cores used per process since begin(), plus the machine's busy cores and the rest; and per
   * process, its main thread's time on a CPU and waiting for one, per second.
   */
  end(): {
    seconds: number;
    cores: Record<string, number>;
    machineBusyCores: number;
    otherCores: number;
    mainThreads: Record<string, { running: number; waiting: number }>;
  } {
    const seconds = Math.max(0.001, (Date.now() - this.startedAt) / 1000);
    const cores: Record<string, number> = {};
    const mainThreads: Record<string, { running: number; waiting: number }> = {};
    let ours = 0;
    for (const [name, pid] of this.pids) {
      const from = this.scheduleStart.get(name);
      const to = mainThreadSchedule(pid);
      if (from && to)
        mainThreads[name] = {
          running: (to.running - from.running) / seconds,
          waiting: (to.waiting - from.waiting) / seconds,
        };
      const before = this.start.get(name);
      const after = cpuSeconds(pid);
      if (before === undefined || after === undefined) continue;
      cores[name] = (after - before) / seconds;
      ours += cores[name]!;
    }
    const m = machineCpu();
    const machineBusyCores = (m.busy - this.machineStart.busy) / seconds;
    return {
      seconds,
      cores,
      machineBusyCores,
      otherCores: Math.max(0, machineBusyCores - ours),
      mainThreads,
    };
  }
}
