import { Command, InvalidArgumentError } from 'commander';
import { buildDist } from './build';
import { measureRecovery, type RecoveryResult, type RecoveryScenario } from './bench/recovery-run';
import { runCommand } from './run-command';

function count(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`must be an integer ≥ ${min}`);
    return n;
  };
}

const SCENARIOS: readonly RecoveryScenario[] = ['kill', 'restart', 'term'];

function scenarioList(value: string): RecoveryScenario[] {
  const list = value.split(',').map((s) => s.trim());
  for (const s of list)
    if (!SCENARIOS.includes(s as RecoveryScenario))
      throw new InvalidArgumentError(`${s}: the scenarios are ${SCENARIOS.join(', ')}`);
  return list as RecoveryScenario[];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Recovery time after a pipeline process goes away (SIGKILL, SIGKILL and restart, SIGTERM): the
 * time from the signal until every partition it owned is processed again, measured on the local
 * stack with fresh topics (see scripts/bench/recovery-run.ts). TICKS_SESSION_TIMEOUT_MS and
 * TICKS_PARTITION_LEASE_MS from the environment apply to the processes measured.
 */
new Command('recovery-time')
  .description(
    'Measure how long after a pipeline process is killed (or stopped) its partitions are processed again',
  )
  .option(
    '--scenarios <list>',
    'comma-separated: kill (SIGKILL, a second process takes over), restart (SIGKILL of the only process, started again at once), term (SIGTERM, a second process takes over)',
    scenarioList,
    ['kill', 'restart', 'term'],
  )
  .option('--runs <n>', 'runs per scenario', count(1), 3)
  .option('--partitions <n>', 'partitions of the run’s topics', count(1), 4)
  .option(
    '--conversations <n>',
    'conversations of the steady traffic (10 messages/s each)',
    count(1),
    16,
  )
  .option('--timeout <s>', 'give up on a run after this long', count(1), 180)
  .action(
    (opts: {
      scenarios: RecoveryScenario[];
      runs: number;
      partitions: number;
      conversations: number;
      timeout: number;
    }) =>
      runCommand(async () => {
        buildDist();
        const scenarios = opts.scenarios;
        const results: RecoveryResult[] = [];
        for (const scenario of scenarios)
          for (let run = 1; run <= opts.runs; run++) {
            const r = await measureRecovery({
              scenario,
              partitions: opts.partitions,
              conversations: opts.conversations,
              timeoutMs: opts.timeout * 1000,
            });
            results.push(r);
            console.log(
              `${scenario} #${run}: session ${seconds(r.sessionTimeoutMs)}, lease ${seconds(r.partitionLeaseMs)} — processing again after ${seconds(r.recoveryMs)} (${Object.entries(
                r.perPartitionMs,
              )
                .map(([p, ms]) => `p${p} ${seconds(ms)}`)
                .join(', ')})`,
            );
          }
        console.log('\n| scenario | runs | min | median | max |\n| --- | --- | --- | --- | --- |');
        for (const scenario of scenarios) {
          const times = results
            .filter((r) => r.scenario === scenario)
            .map((r) => r.recoveryMs)
            .sort((a, b) => a - b);
          console.log(
            `| ${scenario} | ${times.length} | ${seconds(times[0]!)} | ${seconds(times[Math.floor(times.length / 2)]!)} | ${seconds(times[times.length - 1]!)} |`,
          );
        }
      }),
  )
  .parse();
