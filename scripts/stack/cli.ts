/**
 * `npm run stack:up | stack:down | stack:status`: the local stack (Kafka, the schema registry,
 * Cassandra, two Redis) run from Maven Central jars and Debian's redis-server, no Docker needed.
 * Progress goes to stderr, the result table to stdout.
 */
import { Command } from 'commander';
import * as path from 'node:path';
import {
  formatFailure,
  describeState,
  ensureStackUp,
  purgeData,
  stackStatus,
  stopAll,
  StackUpError,
} from './stack';
import { StackError } from './managed-server';
import { dataRoot, REPO_ROOT, STACK_DIR } from './paths';
import { afterUp, kafkaBrokersOption, serversToStart, type UpFlags } from './up-options';
import { LOCAL_CLUSTER } from './redis-cluster';
import type { StackModes } from './servers';
import { formatTable } from './table';

const HEADER = ['server', 'address', 'status'];
const REDIS_CLUSTER_FLAG = '--redis-cluster';
const REDIS_CLUSTER_HELP =
  'also a Redis Cluster: 3 masters + 3 replicas (config/local-stack.ts ports); point ticks at it with ' +
  'TICKS_REDIS_CLUSTER=true TICKS_REDIS_URL=redis://127.0.0.1:17381';

async function up(flags: UpFlags & StackModes): Promise<number> {
  try {
    const { results } = await ensureStackUp({
      redisCluster: flags.redisCluster,
      servers: serversToStart(flags),
    });
    const rows = results.map((r) => [
      r.name,
      r.address,
      r.outcome === 'started'
        ? `healthy (started, pid ${r.pid}, ${r.seconds?.toFixed(1)}s)`
        : r.outcome === 'shared'
          ? 'healthy (another process serves it: used as it is, never stopped by this checkout)'
          : `healthy (already running, pid ${r.pid})`,
    ]);
    console.log(formatTable(HEADER, rows));
    if (results.every((r) => r.outcome !== 'started'))
      console.log('already running: nothing to do');
    for (const line of afterUp(flags)) console.log(line);
    return 0;
  } catch (err) {
    if (err instanceof StackUpError) {
      console.error(`\n${err.message}\n`);
      console.log(
        formatTable(
          HEADER,
          err.results.map((r) => [
            r.name,
            r.address,
            r.outcome === 'failed' ? 'FAILED' : `healthy (pid ${r.pid})`,
          ]),
        ),
      );
      console.error(
        '\nThe servers that came up are still running: `npm run stack:down` stops them.',
      );
      return 1;
    }
    throw err;
  }
}

async function down(options: { purge?: boolean }): Promise<number> {
  const stopped = await stopAll();
  // The cluster mode's nodes are listed only when they ran: most stacks never start them.
  const clusterNode = (name: string) => name.startsWith(`${LOCAL_CLUSTER.name}-`);
  for (const s of stopped.filter((s) => s.pid !== undefined || !clusterNode(s.name))) {
    console.log(
      s.pid === undefined ? `${s.name}: not running` : `stopped ${s.name} (pid ${s.pid})`,
    );
  }
  if (options.purge) {
    purgeData();
    console.log(`purged ${path.relative(REPO_ROOT, dataRoot)} (the download cache is kept)`);
  }
  return 0;
}

async function status(options: StackModes): Promise<number> {
  const statuses = await stackStatus(options);
  console.log(
    formatTable(
      HEADER,
      statuses.map((s) => [s.name, s.address, s.note ?? describeState(s.state)]),
    ),
  );
  return statuses.every((s) => s.state.kind === 'healthy') ? 0 : 1;
}

function run(action: () => Promise<number>): () => Promise<void> {
  return async () => {
    let code: number;
    try {
      code = await action();
    } catch (err) {
      console.error(err instanceof StackError ? formatFailure(err) : err);
      code = 1;
    }
    // Client libraries (kafkajs, cassandra-driver) can leave timers behind: do not wait for them.
    process.exit(code);
  };
}

const program = new Command()
  .name('stack')
  .description(
    'Runs the local stack (Kafka, Apicurio Registry, Cassandra, Redis main + aux) as background ' +
      `processes of this checkout.\nFiles: ${path.relative(REPO_ROOT, STACK_DIR)}/{cache,data,logs,run}. ` +
      'Ports: config/local-stack.ts.',
  );

program
  .command('up')
  .description('fetch what is missing, start what is not running, wait until all are healthy')
  .addOption(kafkaBrokersOption())
  .option(REDIS_CLUSTER_FLAG, REDIS_CLUSTER_HELP)
  .action((flags: UpFlags & StackModes) => run(() => up(flags))());

program
  .command('down')
  .description('stop the servers this stack started (never anyone else’s)')
  .option('--purge', 'also delete server data (.stack/data); the download cache stays')
  .action((options: { purge?: boolean }) => run(() => down(options))());

program
  .command('status')
  .description('show each server’s state; exit code 1 unless all are healthy')
  .option(
    REDIS_CLUSTER_FLAG,
    'also show the Redis Cluster (shown anyway while one of its nodes runs)',
  )
  .action((options: StackModes) => run(() => status(options))());

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
