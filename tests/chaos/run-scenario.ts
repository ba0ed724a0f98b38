import pino from 'pino';
import { SeededRandom } from '../../scripts/traffic/random';
import { apiClient } from '../support/api-client';
import {
  caughtUp,
  createHarness,
  outputsCollected,
  persisterCaughtUp,
  type Harness,
} from '../support/harness';
import { ChaosLoad, sleep, type LoadShape } from './chaos-load';
import type { HostileLoad } from './hostile';
import {
  emptyVerdict,
  judgeApi,
  judgeCassandra,
  judgeDeadLetters,
  judgeUpdates,
  type UnreadAnswer,
  type Verdict,
} from './judge';
import { SupervisedService } from './supervised';
import { startApiServer } from '../support/api-server';

/** How big a run is: the full suite's, or the short form's in `npm test`. */
export interface ChaosSize {
  load: Omit<LoadShape, 'seed'>;
  /** How long the load runs, seconds. */
  seconds: number;
  kills: number;
  hostileRecords: number;
  hostileApiRounds: number;
  /** A server outage, seconds. */
  outageSeconds: number;
}

export const FULL: ChaosSize = {
  load: { users: 120, directChats: 150, groups: 12, groupSize: 12, rate: 100 },
  seconds: 75,
  kills: 10,
  hostileRecords: 10_000,
  hostileApiRounds: 40,
  outageSeconds: 30,
};

export const SHORT: ChaosSize = {
  load: { users: 30, directChats: 30, groups: 4, groupSize: 8, rate: 40 },
  seconds: 25,
  kills: 2,
  hostileRecords: 900,
  hostileApiRounds: 3,
  outageSeconds: 8,
};

/** What a scenario's fault function gets to act with. */
export interface ChaosContext {
  h: Harness;
  size: ChaosSize;
  random: SeededRandom;
  load: ChaosLoad;
  pipelines: SupervisedService[];
  persister: SupervisedService;
  /** Starts a further pipeline process of the group. */
  addPipeline(): SupervisedService;
  /** A fault ended now: an event sent now is timed until the API shows it (the recovery time). */
  healed(what: string): void;
  /** The query API of the run, and tokens for any user. */
  api: { call: ReturnType<typeof apiClient>; token: (user: string) => string };
  hostile?: HostileLoad;
  apiVerdict: Verdict;
  log(message: string): void;
}

export interface Scenario {
  name: string;
  /** Restarts or stops servers: runs only against a private stack. */
  restartsServers: boolean;
  pipelines: number;
  /** Injects the faults while the load runs; returns what it injected, for the table. */
  inject(ctx: ChaosContext): Promise<string>;
}

export interface ScenarioResult {
  scenario: string;
  seed: number;
  loadHeld: string;
  faults: string;
  verdict: Verdict;
  /** Seconds from each fault's end until a new event was visible through the API. */
  recoveries: number[];
  /** Seconds from the load's end until the persister had written the whole changelog. */
  persisterSeconds: number;
  unexpectedRestarts: number;
  seconds: number;
}

const PROBES = 16;
const RATE_LIMIT = 300;

/**
 * Runs one scenario on fresh topics, keys and keyspace: the load (and the scenario's faults) with
 * the pipeline and the persister in processes of their own, then waits until everything is
 * processed, the group windows are closed and the persister caught up, and judges every output
 * against the reference model.
 */
export async function runScenario(
  scenario: Scenario,
  size: ChaosSize,
  seed: number,
  log: (message: string) => void,
): Promise<ScenarioResult> {
  const started = Date.now();
  const h = await createHarness(
    {
      TICKS_PARTITIONS: '4',
      TICKS_SESSION_TIMEOUT_MS: '6000',
      TICKS_PARTITION_LEASE_MS: '4000',
      // Receipts held for their message wait past any outage of the scenarios (the default
      // bound would dead-letter reads whose message is stuck behind a stopped server).
      TICKS_PENDING_RECEIPT_WAIT_MS: '300000',
      TICKS_WATERMARK_FLUSH_INTERVAL_MS: '1000',
      TICKS_API_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
      TICKS_LOG_LEVEL: 'error',
    },
    { startPipeline: false, cassandra: true },
  );
  // The runner's own Redis clients see the restarts too: their errors are expected, not news.
  for (const client of [h.redis, h.aux]) client.on('error', () => undefined);
  const children: SupervisedService[] = [];
  const api = await startApiServer(h, {
    logger: pino({ level: 'error' }),
    gateway: false,
  });
  try {
    const call = apiClient(api.url);
    const token = (user: string) => api.tokens.issue(user);
    const random = new SeededRandom(seed);
    const load = new ChaosLoad(h.publish, { ...size.load, seed });
    for (let i = 0; i < PROBES; i++)
      load.addConversation(`probe-${i}`, 'DIRECT', [`probe-writer-${i}`, 'probe-reader']);
    await load.setUp();

    const recoveries: number[] = [];
    // One reader polls the API for every probe under way (polls of its own would pass the rate
    // limit): a probe is done when each probe chat shows the message sent for it.
    const waiting: Array<{
      what: string;
      at: number;
      want: Map<string, number>;
      done: () => void;
    }> = [];
    const probes: Array<Promise<void>> = [];
    let polling = false;
    const poll = async () => {
      polling = true;
      while (waiting.length > 0) {
        await sleep(250);
        const answer = await call<UnreadAnswer>('GET', '/v1/me/unread?limit=1000', {
          token: token('probe-reader'),
        });
        const seen = new Map(
          answer.body.conversations?.map((c) => [c.conversation_id, c.last_seq]) ?? [],
        );
        for (const w of [...waiting]) {
          if (![...w.want].every(([c, seq]) => (seen.get(c) ?? 0) >= seq)) continue;
          const seconds = (Date.now() - w.at) / 1000;
          recoveries.push(seconds);
          log(`  recovered from ${w.what} in ${seconds.toFixed(1)} s`);
          waiting.splice(waiting.indexOf(w), 1);
          w.done();
        }
        const late = waiting.find((w) => Date.now() - w.at > 600_000);
        if (late) throw new Error(`probe after ${late.what}: not visible through the API in 600 s`);
      }
      polling = false;
    };
    const probe = (what: string) => {
      const want = new Map<string, number>();
      for (let i = 0; i < PROBES; i++)
        want.set(`probe-${i}`, load.sendNow(`probe-${i}`, `probe-writer-${i}`));
      probes.push(
        new Promise<void>((done) => waiting.push({ what, at: Date.now(), want, done })),
        load.flushRetrying(),
      );
      if (!polling) probes.push(poll());
    };

    const env = { ...h.env, TICKS_LOG_LEVEL: 'error' };
    const persister = new SupervisedService('persister', env, log);
    children.push(persister);
    persister.start();
    const pipelines: SupervisedService[] = [];
    const addPipeline = () => {
      const p = new SupervisedService('pipeline', env, log);
      children.push(p);
      pipelines.push(p);
      p.start();
      return p;
    };
    for (let i = 0; i < scenario.pipelines; i++) addPipeline();
    await caughtUp(h, 120_000);
    log(
      `  ${load.model.conversationIds().length} conversations set up; load for ${size.seconds} s at ${size.load.rate}/s`,
    );

    const apiVerdict = emptyVerdict();
    const ctx: ChaosContext = {
      h,
      size,
      random,
      load,
      pipelines,
      persister,
      addPipeline,
      healed: (what) => probe(what),
      api: { call, token },
      apiVerdict,
      log,
    };
    let lastTick = 0;
    const [, faults] = await Promise.all([
      load.run(size.seconds, (ms) => {
        if (ms - lastTick < 15_000) return;
        lastTick = ms;
        log(`  load ${Math.round(ms / 1000)} s, ${load.published} events published`);
      }),
      scenario.inject(ctx),
    ]);
    log(`  faults done: ${faults}; waiting for the pipeline to catch up`);
    await Promise.all(probes);

    const loadEnded = Date.now();
    await caughtUp(h, 600_000);
    await sleep(4000); // the last group windows close (2 s windows, wall-clock timers)
    for (const p of pipelines) await p.stop(); // SIGTERM closes what is still open
    await outputsCollected(h, 120_000);
    await persisterCaughtUp(h, 600_000);
    const persisterSeconds = (Date.now() - loadEnded) / 1000;
    await persister.stop();
    log(`  judging ${h.out.updates.length} updates, ${h.out.deadLetters.length} dead letters`);

    const verdict = apiVerdict;
    await judgeApi(verdict, load.model, async (user) => {
      const answer = await call<UnreadAnswer>('GET', '/v1/me/unread?limit=1000', {
        token: token(user),
      });
      if (answer.status !== 200) throw new Error(`GET /v1/me/unread for ${user}: ${answer.status}`);
      return answer.body;
    });
    judgeUpdates(verdict, load.model, h.out.updates);
    judgeDeadLetters(
      verdict,
      h.out.deadLetters,
      ctx.hostile?.expected ?? new Set(),
      ctx.hostile?.tolerated,
    );
    await judgeCassandra(verdict, load.model, h.cassandra!, h.config.cassandra.keyspace);
    return {
      scenario: scenario.name,
      seed,
      loadHeld: `${load.model.events} events (${size.seconds} s at ${size.load.rate}/s, ${load.model.conversationIds().length} conversations)`,
      faults,
      verdict,
      recoveries,
      persisterSeconds,
      unexpectedRestarts: children.reduce((n, c) => n + c.restarts, 0),
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    for (const c of children) await c.kill();
    await api.stop().catch(() => undefined);
    await h.close().catch((err) => log(`  cleanup failed: ${String(err)}`));
  }
}

export { RATE_LIMIT };
