import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { withThrowawayRedis } from './throwaway-redis';

const run = promisify(execFile);

export interface CeilingResult {
  port: number;
  pipeline: number;
  requests: number;
  /** Requests per second per test (SET, GET, HSET, ZADD, SADD, EVALSHA of a 3-call script...). */
  opsPerSecond: Record<string, number>;
}

/** Scripts shaped like ticks' per-event work: a few calls, and about twenty. */
const SCRIPTS: Record<string, string> = {
  EVALSHA_3_CALLS:
    "redis.call('HSET', KEYS[1], 'f', ARGV[1]); redis.call('EXPIRE', KEYS[1], 86400); return redis.call('HGET', KEYS[1], 'f')",
  EVALSHA_20_CALLS:
    "for i = 1, 10 do redis.call('HSET', KEYS[1], i, ARGV[1]); redis.call('HGET', KEYS[1], i) end; return 1",
};

/**
 * What one Redis core does on this machine: `redis-benchmark`, pipelined, against a throwaway
 * redis-server (no persistence) on a free port, so the shared servers are not disturbed. The
 * script test runs a small Lua script with three calls, the shape of ticks' per-event work.
 */
export async function redisCeiling(requests: number, pipeline = 16): Promise<CeilingResult> {
  return withThrowawayRedis(async (port) => {
    const common = [
      '-p',
      String(port),
      '-P',
      String(pipeline),
      '-n',
      String(requests),
      '-r',
      '100000',
      '--csv',
    ];
    const opsPerSecond: Record<string, number> = {};
    const record = (stdout: string, name?: string) => {
      for (const m of stdout.matchAll(/^"([^"]+)","([\d.]+)"/gm))
        opsPerSecond[name ?? m[1]!] = Number(m[2]);
    };
    record((await run('redis-benchmark', [...common, '-t', 'set,get,sadd,hset,zadd'])).stdout);
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      const { stdout: sha } = await run('redis-cli', ['-p', String(port), 'SCRIPT', 'LOAD', lua]);
      const args = ['EVALSHA', sha.trim(), '1', 'k:__rand_int__', '__rand_int__'];
      record((await run('redis-benchmark', [...common, ...args])).stdout, name);
    }
    return { port, pipeline, requests, opsPerSecond };
  });
}
