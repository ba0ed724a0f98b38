/**
 * Facts about a pid read from /proc. We only ever signal a pid that is alive, runs the expected
 * executable and whose command line or working directory points into our .stack directory: a pid
 * file can be stale and its number reused by someone else's process.
 */
import * as fs from 'node:fs';
import { STACK_DIR } from './paths';

/** Alive and not a zombie (a zombie still answers kill(pid, 0) but is already dead). */
export function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the parenthesised command name, which may itself contain spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function processCommandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

function processName(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function processCwd(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** True when pid is a live `executable` process started from this checkout's .stack directory. */
export function isOurProcess(pid: number, executable: string, stackDir = STACK_DIR): boolean {
  if (!isAlive(pid) || processName(pid) !== executable) return false;
  const cmdline = processCommandLine(pid) ?? '';
  const cwd = processCwd(pid) ?? '';
  // A .stack that is a symlink (a second worktree sharing the first one's stack) names the same
  // servers by its target's path: without it, the worktree took them for strangers and deleted
  // their pid files as stale.
  return [...new Set([stackDir, realPath(stackDir)])].some(
    (dir) => cmdline.includes(dir + '/') || cwd === dir || cwd.startsWith(dir + '/'),
  );
}

function realPath(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return dir;
  }
}

export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until pid is gone; false on timeout. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}
