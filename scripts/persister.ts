import { Command } from 'commander';
import { loadConfig } from '../config/config';
import { Persister } from '../processors/persister/persister';
import { AvroCodec } from '../schemas/avro-codec';
import { createLogger } from '../runtime/logger';
import { MetricsServer } from '../runtime/metrics-server';
import { runCommand } from './run-command';

/**
 * The persister alone (the production layout: its own deployment, scaled by adding processes to
 * its consumer group). Migrates Cassandra first; stops cleanly on SIGTERM/SIGINT, flushing and
 * committing what it wrote.
 */
export async function runPersisterProcess(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'ticks-persister');
  const persister = new Persister({
    config,
    logger,
    codec: AvroCodec.connect({ url: config.registryUrl }),
  });
  const metrics = new MetricsServer(persister.metrics.registry, () => ({
    ok: true,
    detail: { partitions: persister.partitions },
  }));
  const port = await metrics.listen(config.persister.metricsPort);
  await persister.start();
  logger.info({ metrics: `http://127.0.0.1:${port}/metrics` }, 'persister running');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  logger.info('stopping: flushing watermarks and committing');
  await persister.stop();
  await metrics.close();
}

if (require.main === module) {
  new Command('persister')
    .description(
      'Write the state_changes changelog to Cassandra (consumer group TICKS_PERSISTER_GROUP_ID); configured by TICKS_* variables',
    )
    .action(() => runCommand(runPersisterProcess))
    .parse();
}
