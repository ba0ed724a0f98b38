import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/config';
import { rows } from '../scripts/bench/bench-report';
import type { BenchResult } from '../scripts/bench/bench-run';
import { runBenchCli, TINY_SERVING } from './support/run-bench';

/**
 * `npm run bench` with a tiny workload: it completes, cleans up, and prints every figure of its
 * table (each row's label and a value), writes the JSON and the chart. No figure is asserted:
 * speed on a shared test machine says nothing.
 */
describe('bench (smoke)', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'ticks-bench-smoke-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs every phase on a tiny workload and prints every figure', async () => {
    const { stdout, stderr } = await runBenchCli([
      ...['--events', '3000', '--users', '400', '--direct-chats', '100', '--groups', '8'],
      ...['--latency-rate', '400', '--latency-duration', '3', '--quiet-seconds', '0'],
      ...['--ceiling-requests', '20000', '--memory-samples', '500'],
      ...TINY_SERVING,
      ...['--out', out, '--chart', path.join(out, 'bench.svg')],
    ]);

    const result = JSON.parse(readFileSync(path.join(out, 'latest.json'), 'utf8')) as BenchResult;
    for (const row of rows(result)) {
      expect(stdout).toContain(row.figure);
      expect(row.value.trim()).not.toBe('');
    }
    for (const heading of [
      'THROUGHPUT',
      'LATENCY',
      'RATIOS',
      'MEMORY',
      'PERSISTER',
      'CEILING',
      'SERVING',
    ])
      expect(stdout).toContain(heading);
    expect(result.ticks.eventsPerSecond).toBeGreaterThan(0);
    expect(result.baseline.eventsPerSecond).toBeGreaterThan(0);
    expect(result.latency.direct.count + result.latency.groupSummary.count).toBeGreaterThan(0);
    expect(result.ceiling?.opsPerSecond.SET).toBeGreaterThan(0);
    expect(result.serving?.api.endpoints.length).toBeGreaterThan(0);
    // Each of ticks' scripts was timed, one event per call, and spent time in Redis commands.
    const scripts = Object.values(result.scripts ?? {});
    expect(scripts).toHaveLength(4);
    for (const s of scripts) {
      expect(s.calls).toBeGreaterThanOrEqual(2_000);
      expect(s.microsInCommands).toBeGreaterThan(0);
      expect(s.microsPerCall).toBeGreaterThan(s.microsInCommands);
    }
    // The persister ran beside the drain, wrote rows, caught up and committed everything.
    const persister = result.persister!;
    expect(persister.timedOut).toBe(false);
    expect(persister.changes).toBeGreaterThan(0);
    expect(persister.rowsByTable.messages).toBeGreaterThan(0);
    expect(persister.overall.rowsPerSecond).toBeGreaterThan(0);
    expect(persister.uncommittedAfterStop).toBe(0);
    // Memory by kind of key adds up to the total, and the conversation's messages are there.
    const kinds = result.memory.redisMain.byKind;
    const sum = Object.values(kinds).reduce((a, k) => a + k.bytes, 0);
    expect(Math.abs(sum - result.memory.redisMain.bytes)).toBeLessThanOrEqual(
      Object.keys(kinds).length,
    );
    // The message index is one key per conversation now (ix), and no msg/msgs are written.
    expect(kinds['c:ix']?.bytes).toBeGreaterThan(0);
    expect(kinds['c:msgs']).toBeUndefined();
    expect(kinds['c:msg']).toBeUndefined();
    expect(readFileSync(path.join(out, 'bench.svg'), 'utf8')).toContain('<svg');
    expect(existsSync(path.join(out, 'latest.md'))).toBe(true);
    expect(stderr).toContain('cleaning up');
    // Nothing of the run is left in the registry (hundreds of runs' subjects stalled it).
    const id = /ticks bench (\w+):/.exec(stderr)?.[1];
    expect(id).toBeDefined();
    const subjects = (await (
      await fetch(`${loadConfig().registryUrl}/subjects`)
    ).json()) as string[];
    expect(subjects.filter((subject) => subject.startsWith(`bench-${id}.`))).toEqual([]);
    // Generous: it compiles ticks, starts two processes (the persister migrates a keyspace of
    // its own) and runs on a machine that tests share.
  }, 300_000);
});
