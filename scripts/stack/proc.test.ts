import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAlive, isOurProcess, waitForExit } from './proc';

describe('process identity', () => {
  it('sees this process alive but never as one of our servers', () => {
    expect(isAlive(process.pid)).toBe(true);
    expect(isOurProcess(process.pid, 'java')).toBe(false);
    expect(isOurProcess(process.pid, 'node')).toBe(false); // not started from .stack
  });

  it('knows a server started from the stack directory also by a symlink to that directory', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ticks-proc-'));
    const stack = path.join(root, 'stack');
    const linked = path.join(root, 'linked');
    const other = path.join(root, 'other');
    fs.mkdirSync(stack);
    fs.mkdirSync(other);
    fs.symlinkSync(stack, linked);
    const child = spawn('sleep', ['30'], { cwd: stack });
    try {
      await new Promise((r) => setTimeout(r, 100));
      const pid = child.pid as number;
      expect(isOurProcess(pid, 'sleep', stack)).toBe(true);
      expect(isOurProcess(pid, 'sleep', linked)).toBe(true);
      expect(isOurProcess(pid, 'sleep', other)).toBe(false);
    } finally {
      child.kill();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('treats an exited process as gone', async () => {
    const child = spawn('sleep', ['0.1']);
    const pid = child.pid as number;
    expect(await waitForExit(pid, 5000)).toBe(true);
    expect(isAlive(pid)).toBe(false);
  });
});
