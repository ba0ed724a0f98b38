import { Command } from 'commander';
import { loadConfig } from '../config/config';
import { AvroCodec } from '../schemas/avro-codec';
import { createLogger } from '../runtime/logger';
import { MetricsServer } from '../runtime/metrics-server';
import { Pipeline } from '../services/pipeline';
import { runCommand } from './run-command';

/**
 * Runs the processors alone (no stack management, no traffic): the production layout, one
 * process per deployment, scaled by adding processes to the consumer group.
 */
export async function runPipelineProcess(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const codec = AvroCodec.connect({ url: config.registryUrl });
  const pipeline = new Pipeline({ config, logger, codec });
  const metrics = new MetricsServer(pipeline.metrics.registry, () => ({
    ok: true,
    detail: { partitions: pipeline.ownedPartitions },
  }));
  const port = await metrics.listen(config.metricsPort);
  await pipeline.start();
  logger.info({ metrics: `http://127.0.0.1:${port}/metrics` }, 'processors running');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  logger.info('stopping: finishing the batch in flight and committing');
  await pipeline.stop();
  await metrics.close();
}

if (require.main === module) {
  new Command('pipeline')
    .description(
      'Run the ticks processors (one process of the consumer group); configured by TICKS_* variables',
    )
    .action(() => runCommand(runPipelineProcess))
    .parse();
}
