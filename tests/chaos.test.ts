import { runScenario, SHORT, type ScenarioResult } from './chaos/run-scenario';
import { scenarioNamed } from './chaos/scenarios';

/**
 * The short form of `npm run chaos` (issue 12), for CI: the scenarios that restart no server
 * (those run on the shared stack), at a small size. A pipeline SIGKILLed at random points and
 * restarted, and hostile records and API traffic mixed into the load, must each end with every
 * client-visible output as the reference model says: no event lost, no false read, no stale
 * final status, nothing else different.
 */
describe('chaos, short form', () => {
  const log = (m: string) => process.stderr.write(`${m}\n`);

  function expectClean(r: ScenarioResult): void {
    expect(r.verdict.details).toEqual([]);
    expect(r.verdict).toMatchObject({
      eventsLost: 0,
      falseReads: 0,
      staleStatuses: 0,
      otherMismatches: 0,
    });
    // The judge did look at real outputs.
    expect(r.verdict.checked['users (API)']).toBeGreaterThan(20);
    expect(r.verdict.checked['receipt_updates']).toBeGreaterThan(100);
    expect(r.verdict.checked['Cassandra rows']).toBeGreaterThan(100);
  }

  it('SIGKILL of the pipeline at random points, restarted each time', async () => {
    const r = await runScenario(scenarioNamed('sigkill'), SHORT, 101, log);
    expectClean(r);
    expect(r.recoveries).toHaveLength(SHORT.kills);
  }, 400_000);

  it('hostile records and hostile API traffic', async () => {
    const r = await runScenario(scenarioNamed('hostile'), SHORT, 202, log);
    expectClean(r);
    expect(r.verdict.checked['dead letters']).toBeGreaterThanOrEqual(SHORT.hostileRecords * 0.7);
  }, 400_000);
});
