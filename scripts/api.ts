import { Command } from 'commander';
import { loadConfig } from '../config/config';
import { TicksHttpServer } from '../services/ticks-http-server';
import { AvroCodec } from '../schemas/avro-codec';
import { CassandraReceiptDetails } from '../stores/cassandra/cassandra-receipt-details';
import { connectCassandra } from '../stores/cassandra/connect';
import { DurableStateReader } from '../stores/cassandra/durable-state-reader';
import { ensureCassandraSchema } from '../stores/cassandra/ensure-schema';
import { FallbackReceiptDetails } from '../stores/receipt-details-source';
import { createLogger } from '../runtime/logger';
import { MetricsServer } from '../runtime/metrics-server';
import { runCommand } from './run-command';

/**
 * The query API and the push gateway as their own process (the production layout: scale by
 * adding processes behind a load balancer; each gateway instance reads receipt_updates in its own
 * consumer group). Configured by TICKS_* variables.
 */
new Command('api')
  .description('Run the query API (and, unless --no-gateway, the WebSocket push gateway)')
  .option('--no-gateway', 'serve the query API only')
  .option('--demo', 'also serve the demo page (development only)', false)
  .action((opts: { gateway: boolean; demo: boolean }) =>
    runCommand(async () => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel);
      // Receipt details whose Redis copy expired are read from Cassandra.
      await ensureCassandraSchema(config);
      const cassandra = await connectCassandra(config);
      const durableDetails = new CassandraReceiptDetails(new DurableStateReader(cassandra));
      const server = new TicksHttpServer({
        config,
        logger,
        codec: AvroCodec.connect({ url: config.registryUrl }),
        gateway: opts.gateway,
        demo: opts.demo,
        receiptDetails: (redis) => new FallbackReceiptDetails(redis, durableDetails),
      });
      const metrics = new MetricsServer(server.metrics.registry, () => ({ ok: true, detail: {} }));
      const metricsPort = await metrics.listen(config.metricsPort);
      await server.start();
      logger.info(
        { url: server.url, metrics: `http://127.0.0.1:${metricsPort}/metrics` },
        'query API running',
      );
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      await server.stop();
      await cassandra.shutdown();
      await metrics.close();
    }),
  )
  .parse();
