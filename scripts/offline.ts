import { Command } from 'commander';
import { loadConfig } from '../config/config';
import { OfflineBatcher } from '../services/offline-batcher';
import { AvroCodec } from '../schemas/avro-codec';
import { createLogger } from '../runtime/logger';
import { MetricsServer } from '../runtime/metrics-server';
import { runCommand } from './run-command';

/**
 * The offline batcher alone (the production layout: its own deployment and consumer group,
 * scaled by adding processes; receipt_updates and presence are co-partitioned by user).
 */
new Command('offline')
  .description('Run the offline batcher (presence + receipt_updates → OfflineBatch on reconnect)')
  .action(() =>
    runCommand(async () => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel);
      const batcher = new OfflineBatcher({
        config,
        logger,
        codec: AvroCodec.connect({ url: config.registryUrl }),
      });
      const metrics = new MetricsServer(batcher.metrics.registry, () => ({
        ok: true,
        detail: { partitions: batcher.ownedPartitions },
      }));
      await metrics.listen(config.metricsPort);
      await batcher.start();
      logger.info({ groupId: batcher.groupId }, 'offline batcher running');
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      await batcher.stop();
      await metrics.close();
    }),
  )
  .parse();
