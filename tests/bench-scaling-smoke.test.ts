import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BenchResult } from '../scripts/bench/bench-run';
import type { UnitCosts } from '../scripts/bench/scaling';
import { runBenchCli } from './support/run-bench';

/**
 * `npm run bench -- --scaling` with a tiny workload: a run with 1 pipeline process and one with
 * 2 in the same group, then the unit costs, the limits and the sizing, printed and written into
 * the measured part of a SCALING.md. No figure is asserted: speed on a shared test machine says
 * nothing; that every figure is there, from the runs, is.
 */
describe('bench --scaling (smoke)', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'ticks-bench-scaling-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('measures 1 and 2 processes and prints the unit costs and the sizing', async () => {
    const doc = path.join(out, 'SCALING.md');
    writeFileSync(
      doc,
      'before\n<!-- scaling:measured:begin -->\nold\n<!-- scaling:measured:end -->\nafter\n',
    );
    const { stdout } = await runBenchCli([
      ...['--scaling', '--processes', '1,2'],
      ...['--events', '3000', '--users', '400', '--direct-chats', '100', '--groups', '8'],
      ...['--latency-rate', '400', '--latency-duration', '2', '--quiet-seconds', '0'],
      ...['--ceiling-requests', '0', '--memory-samples', '500'],
      ...['--out', out, '--scaling-doc', doc],
    ]);

    for (const heading of ['UNIT COSTS', 'LIMITS', 'SIZING']) expect(stdout).toContain(heading);
    for (const figure of [
      'pipeline, 1 process in one group: drain events/s',
      'pipeline, 2 processes in one group: drain events/s',
      'main Redis (one shard): cores per 10k events/s',
      'persister beside the drain: Cassandra rows/s (one node)',
      'Kafka bytes on disk per event (one replica): inputs / written by ticks',
      'main Redis masters (by CPU / by memory)',
      'Kafka brokers (by CPU / disk / network)',
      'Cassandra nodes (by CPU), rows/s',
      '100,000 events/s',
      '1,000,000 events/s',
      '1,160,000 events/s',
    ])
      expect(stdout).toContain(figure);

    // Each run's JSON: the second ran two processes in one group, measured one by one.
    const runs = readdirSync(out)
      .filter((f) => /^bench-.*\.json$/.test(f))
      .map((f) => JSON.parse(readFileSync(path.join(out, f), 'utf8')) as BenchResult)
      .sort((a, b) => a.config.processes - b.config.processes);
    expect(runs.map((r) => r.config.processes)).toEqual([1, 2]);
    const two = runs[1]!;
    expect(Object.keys(two.ticks.cpu.cores)).toEqual(
      expect.arrayContaining(['ticks (node) 1', 'ticks (node) 2']),
    );
    expect(two.ticks.eventsPerProcess).toHaveLength(2);
    const drained = two.workload.setupEvents + two.workload.trafficEvents;
    expect(two.ticks.eventsPerProcess.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(drained);

    const costs = JSON.parse(
      readFileSync(path.join(out, 'scaling-latest.json'), 'utf8'),
    ) as UnitCosts;
    expect(costs.runs.map((r) => r.coresPerProcess.length)).toEqual([1, 2]);
    expect(costs.eventsPerSecondPerProcess).toBeGreaterThan(0);
    expect(costs.coresPer10k.pipeline).toBeGreaterThan(0);
    // Measured (a number, not NaN: the server's pid was found); at this size the drain lasts a
    // fraction of a second, under one 10 ms CPU tick of Redis on a quiet machine, so it may be 0.
    expect(Number.isFinite(costs.coresPer10k.redisMain)).toBe(true);
    expect(costs.coresPer10k.redisMain).toBeGreaterThanOrEqual(0);
    expect(costs.persister?.rowsPerEvent).toBeGreaterThan(0);
    // The brokers' disks held the run's topics: inputs, updates and the changelog.
    for (const topic of [
      'conversation_events',
      'receipt_events',
      'receipt_updates',
      'state_changes',
    ])
      expect(costs.kafkaBytesPerEvent?.[topic]).toBeGreaterThan(0);

    const written = readFileSync(doc, 'utf8');
    expect(written).toMatch(/^before\n/);
    expect(written).toMatch(/\nafter\n$/);
    expect(written).not.toContain('\nold\n');
    expect(written).toContain('### Sizing');
    expect(written).toContain('| 1,160,000 events/s |');
    // Two runs of the whole bench (load, baseline, drain with the persister, latency) on a
    // machine that tests share.
  }, 900_000);
});
