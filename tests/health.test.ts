import pino from 'pino';
import { loadConfig, type TicksConfig } from '../config/config';
import { consumerAlive, consumerRunning, processHealth } from '../runtime/health';
import { pipelineProcess } from '../services/deployables';
import { Components, MetricsEndpoint } from '../services/run-service';
import { TicksHttpServer } from '../services/ticks-http-server';
import { createHarness, eventually, type Harness } from './support/harness';
import { TcpProxy } from './support/tcp-proxy';

interface Report {
  ok: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

async function probe(url: string): Promise<{ status: number; body: Report }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Report };
}

/** Waits until the probe at `url` answers `status` and `check` holds of its report. */
function probeUntil(
  what: string,
  url: string,
  status: number,
  check: (r: Report) => boolean = () => true,
  timeoutMs = 30_000,
): Promise<Report> {
  return eventually(
    what,
    async () => {
      const answer = await probe(url);
      return answer.status === status && check(answer.body) ? answer.body : false;
    },
    timeoutMs,
  );
}

/**
 * Liveness and readiness of the pipeline process (its metrics server) and of the API, with
 * their main Redis and Kafka bootstrap reached through TCP proxies the test cuts and restores:
 * the dependencies become unreachable for these instances only, the shared servers run on.
 */
describe('health probes', () => {
  let h: Harness;
  let redis: TcpProxy;
  let kafka: TcpProxy;
  let config: TicksConfig;
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    h = await createHarness({}, { startPipeline: false });
    const main = new URL(h.config.redis.main.url);
    redis = await TcpProxy.start(main.hostname, Number(main.port));
    const [broker] = h.config.kafka.brokers;
    const [host, port] = broker!.split(':');
    kafka = await TcpProxy.start(host!, Number(port));
    config = loadConfig({
      ...process.env,
      ...h.env,
      TICKS_REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      TICKS_KAFKA_BROKERS: `127.0.0.1:${kafka.port}`,
      TICKS_READY_MAX_FAILING_MS: '2000',
      TICKS_METRICS_PORT: '0',
      TICKS_API_PORT: '0',
    });
  });

  afterAll(async () => {
    await redis?.close();
    await kafka?.close();
    await h?.close();
  });

  afterEach(async () => {
    await redis.restore();
    await kafka.restore();
  });

  it('pipeline process: /readyz turns red naming Redis, then the steps failing past the bound, while /livez stays green; green again once Redis is back; red naming Kafka while its brokers are unreachable', async () => {
    const service = pipelineProcess({ config, logger, codec: h.codec });
    const endpoint = new MetricsEndpoint(service.metrics.registry, service.metrics);
    const components = new Components([endpoint, ...service.components], logger);
    await components.start();
    const url = (path: string) => endpoint.url.replace('/metrics', path);
    try {
      const ready = await probeUntil('ready', url('/readyz'), 200);
      expect(Object.keys(ready.checks).sort()).toEqual(
        ['consumer', 'kafka', 'redis', 'redis_aux', 'steps'].sort(),
      );
      expect((await probe(url('/healthz'))).status).toBe(200);

      await redis.cut();
      // Work for both partitions: its steps need the main Redis and fail.
      for (let i = 0; i < 6; i++) {
        const c = `health-${i}`;
        h.publish.memberAdded(c, 'Ana', 'DIRECT').memberAdded(c, 'Bo', 'DIRECT');
        h.publish.messageSent(c, { messageId: `${c}-1`, seq: 1, senderId: 'Ana', kind: 'DIRECT' });
      }
      await h.publish.flush();
      const red = await probeUntil(
        'not ready: Redis, and steps failing for longer than the bound',
        url('/readyz'),
        503,
        (r) => !r.checks.redis!.ok && !r.checks.steps!.ok,
      );
      expect(red.checks.steps!.detail).toMatch(
        /^steps failing for more than 2000 ms \(TICKS_READY_MAX_FAILING_MS\): partition \d/,
      );
      expect(red.checks.kafka).toEqual({ ok: true });
      expect((await probe(url('/healthz'))).status).toBe(503);
      expect(await probe(url('/livez'))).toMatchObject({ status: 200, body: { ok: true } });

      await redis.restore();
      await probeUntil('ready again', url('/readyz'), 200, undefined, 60_000);
      // The failed steps went through. Ready says no partition has kept failing past the bound,
      // not that every retried step has committed: one that began failing later may still wait.
      await eventually('the failed steps went through', async () =>
        (await h.read.unread('health-0', 'Bo')) === 1 ? true : undefined,
      );

      await kafka.cut();
      const noKafka = await probeUntil(
        'not ready: Kafka',
        url('/readyz'),
        503,
        (r) => !r.checks.kafka!.ok,
      );
      expect(noKafka.checks.kafka!.detail).toContain(
        `Kafka not reachable at 127.0.0.1:${kafka.port}`,
      );
      await kafka.restore();
      await probeUntil('ready again', url('/readyz'), 200);
    } finally {
      await components.stop();
    }
  });

  it('API: /readyz turns red naming Redis or Kafka while either is unreachable, green once back; /livez stays green', async () => {
    const server = new TicksHttpServer({ config, logger, codec: h.codec, port: 0 });
    await server.start();
    const url = (path: string) => `${server.url}${path}`;
    try {
      const ready = await probeUntil('ready', url('/readyz'), 200);
      expect(Object.keys(ready.checks).sort()).toEqual(
        ['gateway_consumer', 'kafka', 'redis', 'settings_consumer', 'started'].sort(),
      );

      await redis.cut();
      const red = await probeUntil(
        'not ready: Redis',
        url('/readyz'),
        503,
        (r) => !r.checks.redis!.ok,
      );
      expect(red.checks.kafka).toEqual({ ok: true });
      expect((await probe(url('/healthz'))).status).toBe(503);
      expect((await probe(url('/livez'))).status).toBe(200);
      await redis.restore();
      await probeUntil('ready again', url('/readyz'), 200);

      await kafka.cut();
      await probeUntil('not ready: Kafka', url('/readyz'), 503, (r) => !r.checks.kafka!.ok);
      expect((await probe(url('/livez'))).status).toBe(200);
      await kafka.restore();
      await probeUntil('ready again', url('/readyz'), 200);
    } finally {
      await server.stop();
    }
  });

  it('a consumer that crashed on an error it does not retry turns liveness red', async () => {
    const groupId = `ticks-test-${h.id}-crash`;
    const consumer = h.kafka.groupConsumer({
      groupId,
      topics: [h.topics.presence],
      coPartitioned: false,
      fromBeginning: true,
      onBatch: () =>
        Promise.reject(
          Object.assign(new Error('a bug in the batch handler'), { retriable: false }),
        ),
    });
    const status = () => consumer.status();
    const health = processHealth({
      live: { consumer: consumerAlive(status) },
      ready: { consumer: consumerRunning(status) },
    });
    await consumer.start();
    try {
      await eventually('running', () => consumer.status().state === 'running');
      expect((await health.live()).ok).toBe(true);
      expect((await health.ready()).ok).toBe(true);

      h.publish.raw('presence', 'someone', Buffer.from('x'));
      await h.publish.flush();
      await eventually('crashed', () => consumer.status().state === 'crashed');
      expect(await health.live()).toEqual({
        ok: false,
        checks: {
          consumer: {
            ok: false,
            detail: expect.stringContaining(
              'crashed and not restarting: a bug in the batch handler',
            ),
          },
        },
      });
      expect((await health.ready()).ok).toBe(false);
    } finally {
      await consumer.stop();
      await h.kafka.withAdmin((a) => a.deleteGroup(groupId)).catch(() => undefined);
    }
  });
});
