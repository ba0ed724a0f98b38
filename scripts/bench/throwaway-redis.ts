import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, sleep } from './pipeline-process';

const run = promisify(execFile);

/**
 * Runs `fn` against a redis-server of its own (no persistence) on a free port, so measurements
 * of Redis alone neither disturb the shared servers nor pay their AOF; stops it afterwards.
 */
export async function withThrowawayRedis<T>(fn: (port: number) => Promise<T>): Promise<T> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'ticks-bench-redis-'));
  const server = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  );
  try {
    for (let i = 0; ; i++) {
      try {
        await run('redis-cli', ['-p', String(port), 'ping']);
        break;
      } catch (err) {
        if (i > 50) throw err;
        await sleep(100);
      }
    }
    return await fn(port);
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
