import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { servingRows } from '../scripts/bench/serving-report';
import type { ServingResult } from '../scripts/bench/serving-run';
import { runBenchCli, TINY_SERVING } from './support/run-bench';

/**
 * `npm run bench -- --serving-only` at tiny sizes: it completes, cleans up, prints every figure
 * of the serving table and writes them. Speed on a shared test machine says nothing, so no
 * speed is asserted; what must hold whatever the speed is: every request answered 2xx, every
 * push delivered, each slow client dropped while the reading devices got everything.
 */
describe('bench serving phase (smoke)', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'ticks-serving-smoke-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('measures the query API and the gateway and prints every figure', async () => {
    const { stdout, stderr } = await runBenchCli([
      '--serving-only',
      ...TINY_SERVING,
      ...['--out', out],
    ]);
    const result = JSON.parse(
      readFileSync(path.join(out, 'serving-latest.json'), 'utf8'),
    ) as ServingResult;
    for (const row of servingRows(result)) {
      expect(stdout).toContain(row.figure);
      expect(row.value.trim()).not.toBe('');
    }
    expect(stdout).toContain('SERVING: QUERY API');
    expect(stdout).toContain('SERVING: GATEWAY');
    // Three users' unread pages, two receipt details, read and delivered.
    expect(result.api.endpoints.map((e) => e.request.split(' ')[0])).toEqual([
      'GET',
      'GET',
      'GET',
      'GET',
      'POST',
      'POST',
    ]);
    for (const e of [...result.api.endpoints, ...result.api.fixedRate]) {
      expect(e.endpoint.requestsPerSecond).toBeGreaterThan(0);
      expect(e.endpoint.failed).toBe(0);
    }
    const g = result.gateway;
    expect(g.connections).toBe(30);
    expect(g.pushes.delivered).toBe(g.pushes.expected);
    expect(g.pushes.latency.count).toBe(g.pushes.expected);
    // The warm-up's frames are timed apart: none of them in the run's figure.
    expect(g.pushes.warmup.latency.count).toBeGreaterThan(0);
    expect(g.slow.dropped).toBe(2);
    expect(g.slow.closedByGateway).toBe(2);
    expect(g.slow.readingDevicesServed).toBe(true);
    expect(stderr).toContain('cleaning up');
  }, 240_000);
});
