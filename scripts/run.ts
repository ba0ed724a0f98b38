import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config/config';
import { TicksHttpServer } from '../services/ticks-http-server';
import { OfflineBatcher } from '../services/offline-batcher';
import { Persister } from '../processors/persister/persister';
import { PersisterMetrics } from '../processors/persister/persister-metrics';
import { AvroCodec } from '../schemas/avro-codec';
import { CassandraReceiptDetails } from '../stores/cassandra/cassandra-receipt-details';
import { connectCassandra } from '../stores/cassandra/connect';
import { DurableStateReader } from '../stores/cassandra/durable-state-reader';
import { FallbackReceiptDetails } from '../stores/receipt-details-source';
import { EventPublisher } from '../runtime/event-publisher';
import { KafkaClient } from '../runtime/kafka/kafka-client';
import { createLogger } from '../runtime/logger';
import { MetricsServer } from '../runtime/metrics-server';
import { Pipeline } from '../services/pipeline';
import { topicNames } from '../runtime/topics';
import { runCommand } from './run-command';
import { startMissingServers } from './stack/stack';
import { LiveSummary } from './traffic/live-summary';
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
      if (opts.stack) await startMissingServers();
      const config = loadConfig();
      const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
      const codec = AvroCodec.connect({ url: config.registryUrl });
      const pipeline = new Pipeline({ config, logger, codec });
      const metricsServer = new MetricsServer(pipeline.metrics.registry, () => ({
        ok: true,
        detail: {},
      }));
      const port = await metricsServer.listen(config.metricsPort);
      await pipeline.start();
      const offline = new OfflineBatcher({ config, logger, codec, metrics: pipeline.metrics });
      await offline.start();
      // Durable state: the persister (its own consumer group; migrates Cassandra first) and the
      // read-through of receipt details whose Redis copy expired.
      const persister = new Persister({
        config,
        logger,
        codec,
        metrics: new PersisterMetrics({ registry: pipeline.metrics.registry }),
      });
      await persister.start();
      const cassandra = await connectCassandra(config);
      const durableDetails = new CassandraReceiptDetails(new DurableStateReader(cassandra));
      const http = new TicksHttpServer({
        config,
        logger,
        codec,
        metrics: pipeline.metrics,
        demo: !config.auth.production,
        receiptDetails: (redis) => new FallbackReceiptDetails(redis, durableDetails),
      });
      await http.start();
      console.error(
        `ticks is running — demo at ${http.url}/demo/ — API ${http.url}/openapi.json — metrics at http://127.0.0.1:${port}/metrics — Ctrl-C to stop`,
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
      const started = Date.now();
      let stopping = false;
      const stop = () => (stopping = true);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);

      const tickMs = 100;
      let nextSummary = Date.now() + 1000;
      while (!stopping && (opts.duration === 0 || Date.now() - started < opts.duration * 1000)) {
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
      await http.stop();
      await offline.stop();
      await pipeline.stop();
      await persister.stop();
      await cassandra.shutdown();
      await metricsServer.close();
    }),
  );

program.parse();
