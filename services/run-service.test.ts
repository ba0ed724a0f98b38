import { createServer, type Server } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { HEALTH_CHECK_TIMEOUT_MS, processHealth } from '../runtime/health';
import { Components, MetricsEndpoint, StartError, StopError, type Component } from './run-service';

const silent = pino({ level: 'silent' });

/** A component that records its starts and stops in `log`, failing where told to. */
function fake(name: string, log: string[], fail: { start?: Error; stop?: Error } = {}): Component {
  return {
    name,
    async start() {
      log.push(`start ${name}`);
      if (fail.start) throw fail.start;
    },
    async stop() {
      log.push(`stop ${name}`);
      if (fail.stop) throw fail.stop;
    },
  };
}

describe('Components', () => {
  it('starts in order and stops in reverse order', async () => {
    const log: string[] = [];
    const components = new Components(
      [fake('metrics', log), fake('redis', log), fake('pipeline', log)],
      silent,
    );
    await expect(components.start()).resolves.toBe(true);
    await components.stop();
    expect(log).toEqual([
      'start metrics',
      'start redis',
      'start pipeline',
      'stop pipeline',
      'stop redis',
      'stop metrics',
    ]);
  });

  it('a failed start stops what had started, in reverse, and names what failed in one line', async () => {
    const log: string[] = [];
    const unreachable = new Error(
      'Kafka not reachable at 127.0.0.1:19092 — run `npm run stack:up` (or check TICKS_KAFKA_BROKERS)',
    );
    const components = new Components(
      [
        fake('metrics server', log),
        fake('cassandra', log),
        fake('pipeline', log, { start: unreachable }),
        fake('http', log),
      ],
      silent,
    );
    const failure = await components.start().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(StartError);
    expect((failure as StartError).component).toBe('pipeline');
    expect((failure as StartError).cause).toBe(unreachable);
    expect((failure as Error).message).toBe(
      'pipeline did not start: Kafka not reachable at 127.0.0.1:19092 — run `npm run stack:up` (or check TICKS_KAFKA_BROKERS)',
    );
    expect((failure as Error).message).not.toContain('\n');
    // The failed one is not stopped (its start did not finish), later ones never start.
    expect(log).toEqual([
      'start metrics server',
      'start cassandra',
      'start pipeline',
      'stop cassandra',
      'stop metrics server',
    ]);
    // Stopping again stops nothing twice.
    await components.stop();
    expect(log).toHaveLength(5);
  });

  it('a failed start still reports the start failure when a cleanup stop fails too', async () => {
    const log: string[] = [];
    const components = new Components(
      [
        fake('a', log, { stop: new Error('a stuck') }),
        fake('b', log),
        fake('c', log, { start: new Error('c broken') }),
      ],
      silent,
    );
    await expect(components.start()).rejects.toThrow('c did not start: c broken');
    expect(log).toEqual(['start a', 'start b', 'start c', 'stop b', 'stop a']);
  });

  it('a failed stop still stops the others, then reports the first failure', async () => {
    const log: string[] = [];
    const components = new Components(
      [
        fake('a', log),
        fake('b', log, { stop: new Error('b stuck') }),
        fake('c', log, { stop: new Error('c stuck') }),
      ],
      silent,
    );
    await components.start();
    const failure = await components.stop().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(StopError);
    expect((failure as Error).message).toBe('c did not stop cleanly: c stuck');
    expect(log.slice(3)).toEqual(['stop c', 'stop b', 'stop a']);
  });

  it('an abort during start starts nothing more and stops what had started', async () => {
    const log: string[] = [];
    const abort = new AbortController();
    const signalled: Component = {
      name: 'slow',
      async start() {
        log.push('start slow');
        abort.abort(); // SIGINT while this component was starting
      },
      async stop() {
        log.push('stop slow');
      },
    };
    const components = new Components([fake('a', log), signalled, fake('never', log)], silent);
    await expect(components.start(abort.signal)).resolves.toBe(false);
    expect(log).toEqual(['start a', 'start slow', 'stop slow', 'stop a']);
  });
});

describe('MetricsEndpoint', () => {
  it('says which variable to change when its port is taken', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as { port: number }).port;
      const endpoint = new MetricsEndpoint(new Registry(), {
        port,
        portVariable: 'TICKS_METRICS_PORT',
      });
      await expect(endpoint.start()).rejects.toThrow(
        `port ${port} is already in use (another ticks process?) — stop it, or set TICKS_METRICS_PORT to a free port (0: any)`,
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('answers 503 with the report while a readiness check fails, 200 on /livez', async () => {
    const endpoint = new MetricsEndpoint(new Registry(), {
      port: 0,
      portVariable: 'X',
      health: processHealth({
        live: { consumer: () => ({ ok: true }) },
        ready: {
          redis: () => Promise.reject(new Error('Connection is closed.')),
          slow: () => new Promise(() => undefined), // never answers
        },
      }),
    });
    await endpoint.start();
    try {
      const live = await fetch(endpoint.url.replace('/metrics', '/livez'));
      expect(live.status).toBe(200);
      const started = Date.now();
      const ready = await fetch(endpoint.url.replace('/metrics', '/readyz'));
      expect(Date.now() - started).toBeLessThan(HEALTH_CHECK_TIMEOUT_MS + 1000);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({
        ok: false,
        checks: {
          consumer: { ok: true },
          redis: { ok: false, detail: 'Connection is closed.' },
          slow: { ok: false, detail: `no answer within ${HEALTH_CHECK_TIMEOUT_MS} ms` },
        },
      });
    } finally {
      await endpoint.stop();
    }
  });

  it('serves on any free port with 0, and closes', async () => {
    const endpoint = new MetricsEndpoint(new Registry(), { port: 0, portVariable: 'X' });
    await endpoint.start();
    expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    for (const probe of ['/healthz', '/livez', '/readyz']) {
      const response = await fetch(endpoint.url.replace('/metrics', probe));
      expect([probe, response.status, await response.json()]).toEqual([
        probe,
        200,
        { ok: true, checks: {} },
      ]);
    }
    await endpoint.stop();
  });
});
