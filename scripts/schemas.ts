import { Command } from 'commander';
import { loadConfig } from '../config/config';
import { topicNames } from '../runtime/topics';
import { AvroCodec } from '../schemas/avro-codec';
import { runCommand } from './run-command';

const program = new Command('schemas')
  .description(
    'Register the value schema of every ticks topic under <topic>-value with BACKWARD ' +
      'compatibility (idempotent: an unchanged schema keeps its id)',
  )
  .option('--prefix <prefix>', 'topic name prefix (default: TICKS_TOPIC_PREFIX)')
  .action((options: { prefix?: string }) =>
    runCommand(async () => {
      const config = loadConfig();
      if (options.prefix !== undefined) config.topics.prefix = options.prefix;
      const codec = AvroCodec.connect({ url: config.registryUrl, clientId: 'ticks-schemas' });
      console.log(`registry ${codec.registryUrl}`);
      for (const { subject, id } of await codec.registerAll(topicNames(config))) {
        console.log(`id ${String(id).padEnd(6)} ${subject}`);
      }
    }),
  );

program.parse();
