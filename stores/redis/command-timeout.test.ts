import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../config/config';
import { eventually } from '../../tests/support/harness';
import { freePort } from '../../scripts/bench/pipeline-process';
import { COMMAND_TIMED_OUT } from './command-timeout';
import { connectRedis, type RedisClient } from './connect';

/** Blocks the event loop, as a long GC or a starved CPU does. */
function stall(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

describe('command timeouts (connectRedis commandTimeoutMs), against real Redis', () => {
  const key = `t${randomBytes(4).toString('hex')}:timeout`;
  let redis: RedisClient;
  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main', { commandTimeoutMs: 100 });
  });
  afterAll(async () => {
    await redis.del(key);
    redis.disconnect();
  });

  it('does not fail a command answered while the process was stalled past the timeout', async () => {
    await redis.set(key, 'v');
    const answered = redis.get(key);
    stall(400); // the reply comes meanwhile; the timer is due when the loop runs again
    await expect(answered).resolves.toBe('v');
  });

  describe('a Redis that does not answer (a private redis-server, SIGSTOP)', () => {
    let server: ChildProcess;
    let frozen: RedisClient;
    beforeAll(async () => {
      const port = await freePort();
      server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      frozen = await eventually(
        'the private redis-server',
        () => connectRedis(`redis://127.0.0.1:${port}`, 'auxiliary', { commandTimeoutMs: 100 }),
        10_000,
      );
    });
    afterAll(() => {
      server.kill('SIGCONT');
      server.kill('SIGKILL');
      frozen?.disconnect();
    });

    it('fails its commands after the timeout, and answers again once it does', async () => {
      server.kill('SIGSTOP');
      const started = Date.now();
      await expect(frozen.get(key)).rejects.toThrow(COMMAND_TIMED_OUT);
      expect(Date.now() - started).toBeLessThan(1_000);
      server.kill('SIGCONT');
      await expect(frozen.ping()).resolves.toBe('PONG');
    });
  });
});
