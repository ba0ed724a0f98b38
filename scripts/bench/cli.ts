import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../../config/config';
import { runCommand } from '../run-command';
import { startMissingServers } from '../stack/stack';
import { buildDist } from '../build';
import { benchChart } from './bench-chart';
import { cleanUpRun } from './bench-cleanup';
import { formatTable, markdownTable } from './bench-report';
import { runBench, type BenchOptions, type BenchResult } from './bench-run';
import { BenchProgress } from './bench-progress';
import { DEFAULT_CHAT_TRAFFIC } from './chat-traffic';
import { formatRows, markdownRows } from './report-format';
import { servingRows } from './serving-report';
import { unitCosts } from './scaling';
import { replaceMeasured, scalingMarkdown, scalingText } from './scaling-report';
import { runServing, type ServingOptions } from './serving-run';
import { deployedNodeFlags } from './deployed-node-flags';

const ROOT = path.resolve(__dirname, '..', '..');

function count(min: number) {
  return (value: string): number => {
    const n = Number(value.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`must be an integer ≥ ${min}`);
    return n;
  };
}

function counts(value: string): number[] {
  const list = value.split(',').map((v) => count(1)(v.trim()));
  if (list.length === 0) throw new InvalidArgumentError('give at least one size');
  return list;
}

interface CliOptions {
  events: number;
  latencyRate: number;
  latencyDuration: number;
  partitions: number;
  seed: number;
  users: number;
  directChats: number;
  groups: number;
  groupSize: number;
  memorySamples: number;
  ceilingRequests: number;
  quietSeconds: number;
  profile: boolean;
  out: string;
  chart: string;
  keep: boolean;
  clean?: string;
  nodeFlags: string;
  stack: boolean;
  serving: boolean;
  servingOnly: boolean;
  servingSeconds: number;
  servingConnections: number;
  servingRate: number;
  servingConversations: number[];
  servingGroup: number;
  gatewayConnections: number;
  gatewayDevices: number;
  pushRate: number;
  pushSeconds: number;
  pushWarmupSeconds: number;
  slowClients: number;
  slowMib: number;
  persister: boolean;
  floor: boolean;
  processes?: number[];
  scaling: boolean;
  scalingDoc?: string;
  scalingFrom?: string;
}

const program = new Command('bench')
  .description(
    [
      'Benchmark ticks on the local stack, in one run:',
      '  1. load a seeded chat workload (direct chats, groups of ~20, bursts, deliveries, readers',
      '     who scroll) into fresh input topics;',
      '  2. baseline: kafkajs consuming those topics with no processing (with --floor, also a',
      '     pipeline of no ticks logic, a stage at a time, and at the latency load after step 4);',
      '  3. ticks: the processors (scripts/pipeline.ts in a process of its own) draining them;',
      '  4. latency at a fixed offered load, event → update produced, direct and group;',
      '  5. ratios from the counters, Redis commands and memory, the process peak RSS;',
      '  6. redis-benchmark on a throwaway redis-server (the Redis ceiling), and the Redis time of',
      "     ticks' own scripts there, one event per call;",
      '  7. serving: the query API (autocannon, each endpoint beside /healthz, and at a fixed rate)',
      '     and the push gateway (WebSocket clients: connections, pushes/s, record → socket time,',
      '     memory per connection, slow consumers) in the API process (--serving-only: this alone).',
      'Results: a table here, JSON and Markdown in --out, an SVG chart at --chart. Everything',
      'the run creates (topics, groups, Redis keys) has its own prefix and is deleted after.',
    ].join('\n'),
  )
  .option('--events <n>', 'traffic events in the backlog (drain phase)', count(1), 1_000_000)
  .option('--latency-rate <events/s>', 'offered load of the latency phase', count(1), 10_000)
  .option('--latency-duration <s>', 'length of the latency phase', count(1), 30)
  .option('--partitions <n>', 'partitions of the run’s topics', count(1), 6)
  .option('--seed <n>', 'workload seed', count(0), DEFAULT_CHAT_TRAFFIC.seed)
  .option('--users <n>', 'users', count(2), DEFAULT_CHAT_TRAFFIC.users)
  .option('--direct-chats <n>', 'direct chats', count(1), DEFAULT_CHAT_TRAFFIC.directChats)
  .option('--groups <n>', 'groups', count(1), DEFAULT_CHAT_TRAFFIC.groups)
  .option('--group-size <n>', 'members per group (±3)', count(3), DEFAULT_CHAT_TRAFFIC.groupSize)
  .option(
    '--memory-samples <n>',
    'keys asked MEMORY USAGE, spread over key kinds (the default covers every key of the default workload: exact figures; a sample of 20,000 varied by ±10 B per kind between runs)',
    count(1),
    1_000_000,
  )
  .option(
    '--ceiling-requests <n>',
    'requests per redis-benchmark test (0: skip)',
    count(0),
    1_000_000,
  )
  .option(
    '--quiet-seconds <s>',
    'Redis command sample before a phase, to subtract others',
    count(0),
    5,
  )
  .option(
    '--profile',
    'write a V8 CPU profile of the pipeline process and print its top frames (with --serving-only: of the API processes — the query API’s, then the gateway’s — in <out>/profiles)',
    false,
  )
  .option(
    '--out <dir>',
    'where results go (JSON, Markdown, profiles)',
    path.join(ROOT, 'bench-results'),
  )
  .option('--chart <file>', 'SVG chart of the run', path.join(ROOT, 'docs', 'bench.svg'))
  .option(
    '--node-flags <flags>',
    'node flags for the pipeline process (the default is what `npm run pipeline` uses: a larger young generation, fewer scavenges; an old space of 640 MiB, which bounds RSS under 1 GiB: services/heap-budget.ts)',
    deployedNodeFlags('pipeline').join(' '),
  )
  .option('--no-serving', 'skip the serving phase')
  .option('--serving-only', 'run the serving phase alone', false)
  .option('--serving-seconds <s>', 'length of each autocannon run', count(1), 10)
  .option('--serving-connections <n>', 'autocannon connections', count(1), 50)
  .option('--serving-rate <req/s>', 'offered rate of the fixed-rate runs', count(1), 2000)
  .option(
    '--serving-conversations <list>',
    'conversations of the users asking GET /v1/me/unread',
    counts,
    [3, 100, 5000],
  )
  .option('--serving-group <n>', 'members of the group whose receipts are asked', count(2), 200)
  .option('--gateway-connections <n>', 'WebSocket connections held', count(1), 10_000)
  .option('--gateway-devices <n>', 'devices (connections) per user', count(1), 3)
  .option('--push-rate <frames/s>', 'pushes offered per second (socket frames)', count(1), 30_000)
  .option('--push-seconds <s>', 'length of the push run', count(1), 10)
  .option(
    '--push-warmup-seconds <s>',
    'pushes at the same rate before the timed run, timed apart (the first pushes compile code paths)',
    count(0),
    1,
  )
  .option('--slow-clients <n>', 'sockets that stop reading', count(0), 20)
  .option('--slow-mib <MiB>', 'most offered to each slow socket', count(1), 16)
  .option('--keep', 'keep the run’s topics and Redis keys (to inspect them)', false)
  .option('--no-persister', 'leave the persister out of the drain (it shares the CPU)')
  .option(
    '--floor',
    "before ticks' drain, drain the inputs with a pipeline of no ticks logic, a stage at a time (consume, Avro decode, produce, 2 then 4 Redis commands per event): the most this stack drains on this machine",
    false,
  )
  .option(
    '--processes <list>',
    'pipeline processes in one group (with --scaling: a run per count; default 1, or 1,2 with --scaling)',
    counts,
  )
  .option(
    '--scaling',
    'unit costs and sizing (SCALING.md): a run per --processes count, no serving phase',
    false,
  )
  .option('--scaling-doc <file>', 'with --scaling: replace the measured part of this document')
  .option(
    '--scaling-from <files>',
    'with --scaling: no runs, the tables from these bench JSON files (comma-separated)',
  )
  .option('--no-stack', 'do not start the local stack (use TICKS_* to point at running servers)')
  .option('--clean <run-id>', 'only delete what an interrupted run left (topics, groups, keys)')
  .action((cli: CliOptions) =>
    runCommand(async () => {
      const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
      if (cli.scaling && cli.scalingFrom) {
        const files = cli.scalingFrom.split(',').map((f) => f.trim());
        const results = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as BenchResult);
        reportScaling(results, results[0]?.command ?? command, cli);
        return;
      }
      if (cli.stack) await startMissingServers();
      process.stderr.write('compiling ticks for the pipeline process (npm run build)…\n');
      buildDist();
      const config = loadConfig();
      if (cli.clean) {
        const removed = await cleanUpRun(cli.clean, config);
        process.stdout.write(
          `removed ${removed.topics} topics, ${removed.groups} groups, ${removed.keys} keys, ${removed.keyspaces} keyspaces\n`,
        );
        return;
      }
      let id = randomBytes(3).toString('hex');
      // Ctrl-C: remove what the run created, then stop.
      for (const signal of ['SIGINT', 'SIGTERM'] as const)
        process.once(signal, () => {
          process.stderr.write(`\ninterrupted: cleaning up run ${id}…\n`);
          void cleanUpRun(id, config).finally(() => process.exit(130));
        });
      const processes = cli.processes ?? (cli.scaling ? [1, 2] : [1]);
      if (!cli.scaling && processes.length > 1)
        throw new Error('--processes takes one count (a list only with --scaling)');
      const serving: Omit<ServingOptions, 'id' | 'partitions' | 'outDir'> = {
        seconds: cli.servingSeconds,
        connections: cli.servingConnections,
        fixedRate: cli.servingRate,
        conversations: cli.servingConversations,
        groupSize: cli.servingGroup,
        gatewayConnections: cli.gatewayConnections,
        devicesPerUser: cli.gatewayDevices,
        pushRate: cli.pushRate,
        pushSeconds: cli.pushSeconds,
        pushWarmupSeconds: cli.pushWarmupSeconds,
        slowClients: cli.slowClients,
        slowBytesPerClient: cli.slowMib * 2 ** 20,
      };
      mkdirSync(cli.out, { recursive: true });
      if (cli.servingOnly) {
        const progress = new BenchProgress();
        const result = await runServing(
          {
            ...serving,
            id,
            partitions: cli.partitions,
            outDir: cli.out,
            profileDir: cli.profile ? path.join(cli.out, 'profiles') : undefined,
          },
          progress,
        ).finally(async () => {
          if (cli.keep) return;
          progress.note('cleaning up: topics, consumer groups, Redis keys of this run…');
          await cleanUpRun(id, config);
        });
        const json = JSON.stringify({ command, ...result }, null, 2);
        writeFileSync(path.join(cli.out, 'serving-latest.json'), json);
        writeFileSync(
          path.join(cli.out, 'serving-latest.md'),
          `${markdownRows(servingRows(result))}\n`,
        );
        process.stdout.write(`${formatRows(servingRows(result))}\n\n`);
        process.stdout.write(`results: ${path.join(cli.out, 'serving-latest.json')} (and .md)\n`);
        return;
      }
      const options: BenchOptions = {
        id,
        processes: processes[0],
        events: cli.events,
        latencyRate: cli.latencyRate,
        latencyDuration: cli.latencyDuration,
        partitions: cli.partitions,
        seed: cli.seed,
        traffic: {
          users: cli.users,
          directChats: cli.directChats,
          groups: cli.groups,
          groupSize: cli.groupSize,
        },
        memorySamples: cli.memorySamples,
        ceilingRequests: cli.ceilingRequests,
        quietSeconds: cli.quietSeconds,
        profileDir: cli.profile ? path.join(cli.out, 'profiles') : undefined,
        outDir: cli.out,
        keep: cli.keep,
        nodeFlags: cli.nodeFlags.split(/\s+/).filter(Boolean),
        serving: cli.serving && !cli.scaling ? serving : undefined,
        persister: cli.persister,
        floor: cli.floor,
      };
      if (!cli.scaling) {
        const result = await runBench(options, command);
        const file = saveRun(result, cli.out);
        writeFileSync(path.join(cli.out, 'latest.json'), JSON.stringify(result, null, 2));
        writeFileSync(path.join(cli.out, 'latest.md'), `${markdownTable(result)}\n`);
        mkdirSync(path.dirname(cli.chart), { recursive: true });
        writeFileSync(cli.chart, benchChart(result));
        process.stdout.write(`${formatTable(result)}\n\n`);
        process.stdout.write(
          `results: ${file} (and latest.json, latest.md)\nchart: ${cli.chart}\n`,
        );
        return;
      }
      // --scaling: a run per process count (each with its own topics and keys), then the tables.
      const results: BenchResult[] = [];
      for (const count of processes) {
        if (results.length > 0) id = randomBytes(3).toString('hex');
        const result = await runBench({ ...options, id, processes: count }, command);
        process.stdout.write(`${formatTable(result)}\n\n`);
        process.stderr.write(`results: ${saveRun(result, cli.out)}\n`);
        results.push(result);
      }
      reportScaling(results, command, cli);
    }),
  );

/** The unit costs and sizing of runs: printed, saved in --out, and into --scaling-doc if given. */
function reportScaling(results: BenchResult[], command: string, cli: CliOptions): void {
  const costs = unitCosts(results);
  const measured = scalingMarkdown(costs, command);
  mkdirSync(cli.out, { recursive: true });
  writeFileSync(
    path.join(cli.out, 'scaling-latest.json'),
    JSON.stringify({ command, ...costs }, null, 2),
  );
  writeFileSync(path.join(cli.out, 'scaling-latest.md'), `${measured}\n`);
  process.stdout.write(`${scalingText(costs)}\n\n`);
  if (cli.scalingDoc) {
    const doc = readFileSync(cli.scalingDoc, 'utf8');
    writeFileSync(cli.scalingDoc, replaceMeasured(doc, measured));
    process.stdout.write(`updated the measured part of ${cli.scalingDoc}\n`);
  }
  process.stdout.write(`results: ${path.join(cli.out, 'scaling-latest.json')} (and .md)\n`);
}

/** Writes a run's JSON (named by its start) to `out`; returns the file. */
function saveRun(result: BenchResult, out: string): string {
  const file = path.join(out, `bench-${result.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  return file;
}

program.parse();
