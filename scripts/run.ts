import { Command, InvalidArgumentError } from 'commander';
import { PersisterMetrics } from '../processors/persister/persister-metrics';
import { EventPublisher } from '../runtime/event-publisher';
import { KafkaClient } from '../runtime/kafka/kafka-client';
import { topicNames } from '../runtime/topics';
import { DurableReceiptDetails } from '../services/durable-receipt-details';
import { OfflineBatcher } from '../services/offline-batcher';
import { PersisterService } from '../services/persister-service';
import { Pipeline } from '../services/pipeline';
import {
  Components,
  MetricsEndpoint,
  createServiceContext,
  stopOnSignal,
} from '../services/run-service';
import { TicksHttpServer } from '../services/ticks-http-server';
import { runCommand } from './run-command';
import { startMissingServers } from './stack/stack';
import { LIVE_SUMMARY_LEGEND, LiveSummary } from './traffic/live-summary';
import { Workload } from './traffic/workload';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

const program = new Command('run')
  .description(
    'Run ticks end to end on the local stack: start what is missing, create topics, register schemas, run the processors and a built-in traffic generator, and print a live summary',
  )
  .option('--rate <events/s>', 'traffic generated per second (0: no traffic)', positiveInt, 2000)
  .option('--duration <seconds>', 'stop after this long (0: until Ctrl-C)', positiveInt, 0)
  .option('--no-stack', 'do not start the local stack (use TICKS_* to point at running servers)')
  .action((opts: { rate: number; duration: number; stack: boolean }) =>
    runCommand(async () => {
      // The local demo is the dev mode, said here: the development secret and the demo page are
      // then accepted, on a loopback TICKS_API_HOST only (TicksHttpServer refuses them otherwise).
      process.env.TICKS_DEV_MODE ??= 'true';
      if (opts.stack) await startMissingServers();
      const signals = stopOnSignal();
      const context = createServiceContext({
        logLevel: (level) => (level === 'info' ? 'warn' : level),
      });
      const { config, codec } = context;
      // Every deployable in this one process, sharing one metrics registry and endpoint.
      const pipeline = new Pipeline(context);
      const metrics = new MetricsEndpoint(pipeline.metrics.registry, {
        port: config.metricsPort,
        portVariable: 'TICKS_METRICS_PORT',
        health: pipeline.health(),
      });
      const offline = new OfflineBatcher({ ...context, metrics: pipeline.metrics });
      // Durable state: the persister (its own consumer group; migrates Cassandra first) and the
      // read-through of receipt details whose Redis copy expired.
      const persister = new PersisterService({
        ...context,
        metrics: new PersisterMetrics({ registry: pipeline.metrics.registry }),
      });
      const durable = new DurableReceiptDetails(config);
      const http = new TicksHttpServer({
        ...context,
        metrics: pipeline.metrics,
        demo: config.auth.devMode,
        receiptDetails: (redis) => durable.behind(redis),
      });
      const components = new Components(
        [metrics, pipeline, offline, persister, durable, http],
        context.logger,
      );
      if (!(await components.start(signals.abort))) return;
      console.error(
        `ticks is running — demo at ${http.url}/demo/ — API ${http.url}/openapi.json — metrics at ${metrics.url} — Ctrl-C to stop`,
      );

      const kafka = new KafkaClient({ brokers: config.kafka.brokers, clientId: 'ticks-traffic' });
      const producer = await kafka.producer();
      const publish = new EventPublisher(producer, codec, topicNames(config));
      const workload = new Workload(publish, undefined, `run-${Date.now().toString(36)}-`);
      if (opts.rate > 0) {
        workload.setUp();
        await publish.flush();
      }
      const summary = new LiveSummary(pipeline.metrics);
      console.error(LIVE_SUMMARY_LEGEND);
      const started = Date.now();

      const tickMs = 100;
      let nextSummary = Date.now() + 1000;
      while (
        !signals.abort.aborted &&
        (opts.duration === 0 || Date.now() - started < opts.duration * 1000)
      ) {
        const tickStart = Date.now();
        if (opts.rate > 0) {
          workload.step(Math.max(1, Math.round((opts.rate * tickMs) / 1000)));
          await publish.flush();
        }
        if (Date.now() >= nextSummary) {
          // A terminal gets one line rewritten in place; a log file a line per second.
          const line = await summary.line();
          process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
          nextSummary += 1000;
        }
        await new Promise((r) => setTimeout(r, Math.max(0, tickMs - (Date.now() - tickStart))));
      }
      process.stderr.write(
        `${process.stderr.isTTY ? '\n' : ''}${await summary.line()}\nstopping…\n`,
      );
      await producer.close();
      await components.stop();
    }),
  );

program.parse();
