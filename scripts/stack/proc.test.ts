import { spawn } from 'node:child_process';
import { isAlive, isOurProcess, waitForExit } from './proc';

describe('process identity', () => {
  it('sees this process alive but never as one of our servers', () => {
    expect(isAlive(process.pid)).toBe(true);
    expect(isOurProcess(process.pid, 'java')).toBe(false);
    expect(isOurProcess(process.pid, 'node')).toBe(false); // not started from .stack
  });

  it('treats an exited process as gone', async () => {
    const child = spawn('sleep', ['0.1']);
    const pid = child.pid as number;
    expect(await waitForExit(pid, 5000)).toBe(true);
    expect(isAlive(pid)).toBe(false);
  });
});
