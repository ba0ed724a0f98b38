/**
 * `npm run chaos`: the fault suite (issue 12). Every scenario runs on a private stack of its own
 * (TICKS_STACK_DIR, default .stack-chaos; TICKS_STACK_PORT_OFFSET, default 10100), which it starts
 * if needed and stops at the end, so that restarting servers never touches the shared stack.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';

const REPO = path.resolve(__dirname, '..', '..');

interface Options {
  scenarios?: string;
  short?: boolean;
  seed: string;
  keepStack?: boolean;
  out?: string;
}

async function main(options: Options): Promise<number> {
  // Before anything reads the stack's ports: they come from these at import time.
  process.env['TICKS_STACK_DIR'] ??= path.join(REPO, '.stack-chaos');
  process.env['TICKS_STACK_PORT_OFFSET'] ??= '10100';
  if (Number(process.env['TICKS_STACK_PORT_OFFSET']) === 0)
    throw new Error(
      'TICKS_STACK_PORT_OFFSET=0 is the shared stack: the chaos suite restarts servers, give it a stack of its own',
    );
  for (const v of [
    'TICKS_KAFKA_BROKERS',
    'TICKS_REGISTRY_URL',
    'TICKS_REDIS_URL',
    'TICKS_AUX_REDIS_URL',
    'TICKS_CASSANDRA_CONTACT_POINTS',
  ])
    delete process.env[v]; // the private stack's addresses are the defaults now
  shareDownloads(process.env['TICKS_STACK_DIR']);

  const { ensureStackUp, stopServers } = await import('../../scripts/stack/stack');
  const { SCENARIOS, scenarioNamed } = await import('./scenarios');
  const { runScenario, FULL, SHORT } = await import('./run-scenario');
  const { resultTable } = await import('./result-table');

  const scenarios = options.scenarios ? options.scenarios.split(',').map(scenarioNamed) : SCENARIOS;
  const size = options.short ? SHORT : FULL;
  const log = (m: string) =>
    process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);
  log(
    `chaos stack in ${process.env['TICKS_STACK_DIR']} (port offset ${process.env['TICKS_STACK_PORT_OFFSET']})`,
  );
  const { started } = await ensureStackUp();
  const results = [];
  try {
    for (const [i, scenario] of scenarios.entries()) {
      const seed = Number(options.seed) + i;
      log(`scenario ${i + 1}/${scenarios.length}: ${scenario.name} (seed ${seed})`);
      const result = await runScenario(scenario, size, seed, log);
      results.push(result);
      const v = result.verdict;
      log(
        `  ${scenario.name}: lost ${v.eventsLost}, false reads ${v.falseReads}, stale ${v.staleStatuses}, other ${v.otherMismatches} (${result.seconds.toFixed(0)} s)`,
      );
      for (const d of v.details) log(`    ${d}`);
    }
  } finally {
    if (!options.keepStack && started.length > 0) await stopServers(started);
  }
  const command = `npm run chaos --${options.short ? ' --short' : ''}${options.scenarios ? ` --scenarios ${options.scenarios}` : ''} --seed ${options.seed}`;
  const table = resultTable(results, command);
  process.stdout.write(`${table}\n`);
  if (options.out) fs.writeFileSync(options.out, JSON.stringify(results, null, 2));
  const failed = results.filter((r) => {
    const v = r.verdict;
    return v.eventsLost + v.falseReads + v.staleStatuses + v.otherMismatches > 0;
  });
  return failed.length === 0 ? 0 : 1;
}

/** A new private stack uses the shared stack's downloads (jars) instead of fetching them again. */
function shareDownloads(stackDir: string): void {
  const shared = path.join(REPO, '.stack', 'cache');
  const own = path.join(stackDir, 'cache');
  if (fs.existsSync(own) || !fs.existsSync(shared)) return;
  fs.mkdirSync(stackDir, { recursive: true });
  fs.symlinkSync(shared, own);
}

new Command('chaos')
  .description(
    'the fault suite: scenarios of faults and hostile input under load, judged against a reference model',
  )
  .option(
    '--scenarios <names>',
    'comma-separated: no-fault, sigkill, rebalance, redis-main-restart, aux-redis-down, kafka-restart, registry-down, cassandra-down, hostile',
  )
  .option('--short', 'the short form (small load, short outages)')
  .option('--seed <n>', 'seed of the first scenario (the next get seed+1, …)', '12')
  .option('--keep-stack', 'leave the private stack running')
  .option('--out <file>', 'write the results as JSON')
  .action(async (options: Options) => {
    try {
      process.exitCode = await main(options);
    } catch (err) {
      process.stderr.write(
        `chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 2;
    }
    // Kafka clients and timers of a failed run must not keep the process alive.
    setTimeout(() => process.exit(), 1000).unref();
  })
  .parse();
