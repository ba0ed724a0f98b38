import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import path from 'node:path';
import { loadConfig } from '../../config/config';
import { TokenService } from '../../auth/token-service';
import { AvroCodec } from '../../schemas/avro-codec';
import { ensureTopics } from '../../runtime/ensure-topics';
import { EventPublisher } from '../../runtime/event-publisher';
import { KafkaClient } from '../../runtime/kafka/kafka-client';
import type { RecordProducer } from '../../runtime/kafka/types';
import { topicNames } from '../../runtime/topics';
import { connectRedis } from '../../stores/redis/connect';
import { HotStateRestorer } from '../../stores/redis/hot-state-restorer';
import { RedisKeys } from '../../stores/redis/keys';
import { ApiLoad, type ApiTarget, type EndpointFigures, type FixedRateFigures } from './api-load';
import { runEnv } from './bench-cleanup';
import type { BenchProgress } from './bench-progress';
import { loadGateway, type GatewayFigures } from './gateway-load';
import { deployedNodeFlags } from './deployed-node-flags';
import { PipelineProcess, freePort, sleep } from './pipeline-process';
import { loadAverage } from './process-stats';
import { MetricsSnapshot } from './prometheus-text';
import { seedServingState } from './serving-seed';

export interface ServingOptions {
  /** Run id: names the run's topics, groups and keys (see runNames). */
  id: string;
  partitions: number;
  /** Seconds of each autocannon run. */
  seconds: number;
  /** autocannon connections. */
  connections: number;
  /** Offered requests/s of the fixed-rate runs. */
  fixedRate: number;
  /** Sizes of the users asking GET /v1/me/unread: conversations each. */
  conversations: number[];
  /** Members of the group whose receipts are asked. */
  groupSize: number;
  gatewayConnections: number;
  devicesPerUser: number;
  /** Socket frames offered per second. */
  pushRate: number;
  pushSeconds: number;
  pushWarmupSeconds: number;
  slowClients: number;
  slowBytesPerClient: number;
  outDir: string;
  /** Directory for a V8 CPU profile of the API process (`--profile`), written when it stops. */
  profileDir?: string;
}

export interface ServingResult {
  loadBefore: string;
  loadAfter: string;
  api: {
    connections: number;
    seconds: number;
    endpoints: EndpointFigures[];
    fixedRate: FixedRateFigures[];
  };
  gateway: GatewayFigures;
}

/** The page size clients ask GET /v1/me/unread for in the serving phase. */
export const UNREAD_PAGE = 50;

/**
 * The serving side, in one run: the query API and the push gateway in their own process (the
 * compiled `scripts/api.ts`, as deployed) on the run's topics and keys; hot state seeded in Redis
 * for the users asked; autocannon against each endpoint beside /healthz and at a fixed rate;
 * then WebSocket clients against the gateway. The rate limit is lifted for the run (one user
 * sends every request of an endpoint).
 */
export async function runServing(
  o: ServingOptions,
  progress: BenchProgress,
): Promise<ServingResult> {
  const loadBefore = loadAverage();
  const secret = randomBytes(32).toString('hex');
  const apiPort = await freePort();
  const env = {
    ...runEnv(o.id, o.partitions, 'warn'),
    TICKS_AUTH_SECRET: secret,
    TICKS_API_HOST: '127.0.0.1',
    TICKS_API_PORT: String(apiPort),
    TICKS_API_RATE_LIMIT_PER_MINUTE: String(100_000_000),
    TICKS_GATEWAY_MAX_CONNECTIONS_PER_USER: String(Math.max(20, o.devicesPerUser + 11)),
  };
  const config = loadConfig({ ...process.env, ...env });
  const topics = topicNames(config);
  const kafka = new KafkaClient({
    brokers: config.kafka.brokers,
    clientId: `ticks-bench-${o.id}-serving`,
  });
  const codec = AvroCodec.connect({ url: config.registryUrl });
  const main = await connectRedis(config.redis.main, 'main');
  const aux = await connectRedis(config.redis.aux, 'auxiliary');
  const tokens = TokenService.fromConfig(config.auth);
  let producer: RecordProducer | undefined;
  let api: PipelineProcess | undefined; // the one running: the query API's, then the gateway's
  try {
    await ensureTopics(kafka, config);
    await codec.registerAll(topics);
    progress.note(
      `serving: seeding users in ${o.conversations.join(', ')} conversations and a group of ${o.groupSize}…`,
    );
    const restorer = new HotStateRestorer(
      main,
      aux,
      new RedisKeys(config.redis.keyPrefix),
      config.hotStateTtlSeconds,
    );
    const state = await seedServingState(restorer, o.id, o.conversations, o.groupSize);

    const url = `http://127.0.0.1:${apiPort}`;
    const startApi = async (log: string): Promise<void> => {
      api = new PipelineProcess({
        script: 'api',
        nodeFlags: deployedNodeFlags('api'),
        env,
        cpuProfileDir: o.profileDir,
        logFile: path.join(o.outDir, `${log}-${o.id}.log`),
      });
      await api.start();
      await untilReady(url);
    };
    await startApi('api');

    // ---- query API ----------------------------------------------------------------------------
    const load = new ApiLoad({ url, connections: o.connections, seconds: o.seconds });
    const unread = state.unreadUsers.map((u): ApiTarget => ({
      name: `unread, user in ${u.conversations.toLocaleString('en-US')} conversations`,
      method: 'GET',
      path: `/v1/me/unread?limit=${UNREAD_PAGE}`,
      token: tokens.issue(u.userId),
    }));
    const receipts = (
      name: string,
      c: { conversationId: string; messageId: string; viewer: string },
    ): ApiTarget => ({
      name,
      method: 'GET',
      path: `/v1/messages/${c.conversationId}/${c.messageId}/receipts`,
      token: tokens.issue(c.viewer),
    });
    const r = state.reporter;
    const targets: ApiTarget[] = [
      ...unread,
      receipts('receipts, direct message', state.direct),
      receipts(`receipts, group of ${o.groupSize}`, state.group),
      {
        name: 'POST read',
        method: 'POST',
        path: '/v1/receipts/read',
        token: tokens.issue(r.userId, 'bench'),
        body: { conversation_id: r.conversationId, seq: r.seq },
      },
      {
        name: 'POST delivered',
        method: 'POST',
        path: '/v1/receipts/delivered',
        token: tokens.issue(r.userId, 'bench'),
        body: { conversation_id: r.conversationId, message_ids: [r.messageId] },
      },
    ];
    const endpoints: EndpointFigures[] = [];
    for (const target of targets) {
      progress.note(`serving: ${target.name} beside /healthz (${o.seconds} s each)…`);
      endpoints.push(await load.beside(target));
    }
    const apiMetrics = async () => new MetricsSnapshot(await api!.metricsText());
    const fixedRate: FixedRateFigures[] = [];
    for (const target of [unread[0]!, unread[unread.length - 1]!, targets[unread.length + 1]!]) {
      progress.note(`serving: ${target.name} at ${o.fixedRate} requests/s…`);
      fixedRate.push(await load.atRate(target, o.fixedRate, apiMetrics));
    }

    // ---- push gateway -------------------------------------------------------------------------
    // In a process of its own, as the query API's is after its phases but for their garbage: the
    // RSS before and after the sockets open then measures the sockets, not a collection between.
    await api!.stop();
    await startApi('gateway');
    producer = await kafka.producer();
    const publishTo = producer;
    progress.note(`serving: gateway, ${o.gatewayConnections} connections…`);
    const gateway = await loadGateway({
      url: `ws://127.0.0.1:${apiPort}/v1/updates`,
      runId: o.id,
      connections: o.gatewayConnections,
      devicesPerUser: o.devicesPerUser,
      pushRate: o.pushRate,
      pushSeconds: o.pushSeconds,
      warmupSeconds: o.pushWarmupSeconds,
      slowClients: o.slowClients,
      slowBytesPerClient: o.slowBytesPerClient,
      maxBufferedBytes: config.gateway.maxBufferedBytes,
      token: (userId, deviceId) => tokens.issue(userId, deviceId),
      publisher: () => new EventPublisher(publishTo, codec, topics),
      gatewayRss: () => api!.memory().rss,
      gatewayMetrics: apiMetrics,
    });
    return {
      loadBefore,
      loadAfter: loadAverage(),
      api: { connections: o.connections, seconds: o.seconds, endpoints, fixedRate },
      gateway,
    };
  } finally {
    await api?.stop().catch(() => undefined);
    await producer?.close().catch(() => undefined);
    main.disconnect();
    aux.disconnect();
  }
}

/** Waits until the API's /readyz says ready (its gateway has its partitions). */
async function untilReady(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await new Promise<number>((resolve) => {
      const req = request(`${url}/readyz`, { timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (status === 200) return;
    if (Date.now() > deadline)
      throw new Error(`the API at ${url} was not ready within ${timeoutMs} ms (/readyz ${status})`);
    await sleep(250);
  }
}
