import { EventPublisher } from '../../runtime/event-publisher';
import { serversNamed } from '../../scripts/stack/servers';
import { sleep } from './chaos-load';
import { hostileApiTraffic, publishHostileRecords } from './hostile';
import { RATE_LIMIT, type ChaosContext, type Scenario } from './run-scenario';

/** Waits until `fraction` of the load's duration has passed since the load started. */
function at(ctx: ChaosContext, startedAt: number, fraction: number): Promise<void> {
  return sleep(Math.max(0, startedAt + ctx.size.seconds * 1000 * fraction - Date.now()));
}

/** Stops a server of the private stack (SIGTERM, as a deploy or a host shutdown would). */
async function stopServer(name: string): Promise<void> {
  const [server] = serversNamed([name]);
  if ((await server!.stop()) === undefined)
    throw new Error(`${name} of the chaos stack was not running (or is not ours): nothing to stop`);
}

async function startServer(name: string): Promise<void> {
  const [server] = serversNamed([name]);
  await server!.waitUntilHealthy(await server!.start());
}

/** A server stopped for `seconds` (0: started again at once), then healthy again. */
async function outage(ctx: ChaosContext, name: string, seconds: number): Promise<string> {
  const t0 = Date.now();
  ctx.log(`  stopping ${name}`);
  await stopServer(name);
  await sleep(seconds * 1000);
  await startServer(name);
  const down = (Date.now() - t0) / 1000;
  ctx.log(`  ${name} back after ${down.toFixed(1)} s`);
  ctx.healed(`${name} back`);
  return `${name} down ${down.toFixed(0)} s`;
}

/**
 * A scenario that stops one server of the private stack `fraction` into the load and starts it
 * again: at once (a restart) or after the size's outage seconds.
 */
function outageScenario(
  name: string,
  fraction: number,
  label: string,
  server: string,
  staysDown: boolean,
): Scenario {
  return {
    name,
    restartsServers: true,
    pipelines: 1,
    async inject(ctx) {
      await sleep(ctx.size.seconds * 1000 * fraction);
      const seconds = staysDown ? ctx.size.outageSeconds : 0;
      return `${label}: ${await outage(ctx, server, seconds)}`;
    },
  };
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'no-fault',
    restartsServers: false,
    pipelines: 1,
    async inject(ctx) {
      await sleep(ctx.size.seconds * 500);
      ctx.healed('nothing (a probe under load)');
      return 'none (the control run)';
    },
  },
  {
    name: 'sigkill',
    restartsServers: false,
    pipelines: 1,
    async inject(ctx) {
      const t0 = Date.now();
      const slot = (ctx.size.seconds * 1000 * 0.85) / ctx.size.kills;
      for (let k = 0; k < ctx.size.kills; k++) {
        await sleep(Math.max(0, t0 + slot * k + ctx.random.int(500, slot) - Date.now()));
        const p = ctx.pipelines[0]!;
        ctx.log(`  SIGKILL ${k + 1}/${ctx.size.kills} (pid ${p.pid})`);
        await p.signal('SIGKILL');
        p.start();
        ctx.healed(`SIGKILL ${k + 1}`);
      }
      return `SIGKILL ×${ctx.size.kills} at random points, each restarted at once`;
    },
  },
  {
    name: 'rebalance',
    restartsServers: false,
    pipelines: 1,
    async inject(ctx) {
      const t0 = Date.now();
      await at(ctx, t0, 0.15);
      ctx.log('  a second process joins');
      const second = ctx.addPipeline();
      ctx.healed('a process joined');
      await at(ctx, t0, 0.35);
      ctx.log('  the first leaves (SIGTERM)');
      await ctx.pipelines[0]!.signal('SIGTERM');
      ctx.healed('a process left');
      await at(ctx, t0, 0.5);
      ctx.log('  the first joins again');
      ctx.pipelines[0]!.start();
      ctx.healed('a process joined again');
      await at(ctx, t0, 0.65);
      ctx.log('  the second is killed (SIGKILL) and restarted');
      await second.signal('SIGKILL');
      second.start();
      ctx.healed('a member killed');
      return '2 processes: join, leave (SIGTERM), join, SIGKILL + restart';
    },
  },
  outageScenario('redis-main-restart', 0.3, 'main Redis restarted', 'redis-main', false),
  outageScenario('aux-redis-down', 0.2, 'auxiliary Redis', 'redis-aux', true),
  outageScenario('kafka-restart', 0.3, 'Kafka broker restarted', 'kafka', false),
  {
    name: 'registry-down',
    restartsServers: true,
    pipelines: 1,
    async inject(ctx) {
      await sleep(ctx.size.seconds * 1000 * 0.2);
      const t0 = Date.now();
      ctx.log('  stopping registry');
      await stopServer('registry');
      // A process that starts while the registry is away must wait for it, not skip records.
      await sleep(3000);
      ctx.log('  SIGKILL of the pipeline while the registry is down');
      await ctx.pipelines[0]!.signal('SIGKILL');
      ctx.pipelines[0]!.start();
      await sleep(Math.max(0, t0 + ctx.size.outageSeconds * 1000 - Date.now()));
      await startServer('registry');
      const down = (Date.now() - t0) / 1000;
      ctx.healed('registry back');
      return `registry down ${down.toFixed(0)} s, the pipeline SIGKILLed and restarted meanwhile`;
    },
  },
  {
    name: 'cassandra-down',
    restartsServers: true,
    pipelines: 1,
    async inject(ctx) {
      await sleep(ctx.size.seconds * 1000 * 0.2);
      return `Cassandra: ${await outage(ctx, 'cassandra', ctx.size.outageSeconds)}`;
    },
  },
  {
    name: 'hostile',
    restartsServers: false,
    pipelines: 1,
    async inject(ctx) {
      await sleep(ctx.size.seconds * 1000 * 0.1);
      const producer = await ctx.h.kafka.producer();
      try {
        const publish = new EventPublisher(producer, ctx.h.codec, ctx.h.topics);
        ctx.log(`  ${ctx.size.hostileRecords} hostile records`);
        ctx.hostile = await publishHostileRecords(
          { ...ctx.h, publish },
          ctx.load.model,
          ctx.size.hostileRecords,
          ctx.random.int(1, 1e9),
          ctx.h.config.maxDeliveredBatch,
        );
      } finally {
        await producer.close();
      }
      ctx.healed('hostile records');
      ctx.log('  hostile API traffic');
      const api = await hostileApiTraffic(
        ctx.apiVerdict,
        ctx.load.model,
        ctx.api.call,
        ctx.api.token,
        ctx.size.hostileApiRounds,
        RATE_LIMIT,
      );
      const kinds = Object.entries(ctx.hostile.byKind)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
      return `${ctx.size.hostileRecords} hostile records (${kinds}); ${api.sent} hostile API requests (non-members, bad tokens, a flood), ${api.wrongAnswers} answered otherwise than 401/403/429`;
    },
  },
];

export function scenarioNamed(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s)
    throw new Error(`unknown scenario ${name} (known: ${SCENARIOS.map((x) => x.name).join(', ')})`);
  return s;
}
