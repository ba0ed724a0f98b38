import { Command } from 'commander';
import { loadConfig } from '../config/config';
import { ensureTopics } from '../runtime/ensure-topics';
import { KafkaClient } from '../runtime/kafka/kafka-client';
import { runCommand } from './run-command';

const program = new Command('topics')
  .description('Create every ticks topic that is missing (idempotent) and check co-partitioning')
  .action(() =>
    runCommand(async () => {
      const config = loadConfig();
      const kafka = new KafkaClient({ brokers: config.kafka.brokers, clientId: 'ticks-topics' });
      const result = await ensureTopics(kafka, config);
      for (const name of result.created) console.log(`created  ${name}`);
      for (const name of result.existing) console.log(`exists   ${name}`);
      console.log(`input topics co-partitioned with ${result.partitions} partitions`);
    }),
  );

program.parse();
