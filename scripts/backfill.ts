import { existsSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config/config';
import { AvroCodec } from '../schemas/avro-codec';
import { EventPublisher } from '../runtime/event-publisher';
import { ensureTopics } from '../runtime/ensure-topics';
import { KafkaClient } from '../runtime/kafka/kafka-client';
import type { RecordProducer } from '../runtime/kafka/types';
import { topicNames } from '../runtime/topics';
import { LINE_FORMAT_HELP } from './backfill/backfill-line';
import { countLines, runBackfill } from './backfill/backfill-runner';
import { CommandProgress, printSummary } from './cli/command-progress';
import { runCommand } from './run-command';

function count(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`must be an integer ≥ ${min}`);
    return n;
  };
}

const SHOWN_REJECTS = 20;

new Command('backfill')
  .description(
    'Import historical events from a JSON-lines file into the input topics, through the Avro schemas, rate-limited. Invalid lines are reported with their line numbers and written to a rejects file; valid ones flow through the pipeline like live traffic. Configured by TICKS_* variables.',
  )
  .argument('<file>', 'the JSON-lines file')
  .option('--rate <events/s>', 'events per second at most (0: no limit)', count(0), 1000)
  .option('--batch <n>', 'events per produce call', count(1), 500)
  .option('--rejects <file>', 'where rejected lines go (default: <file>.rejects.jsonl)')
  .option('--dry-run', 'check every line; publish nothing, write no file')
  .addHelpText(
    'after',
    `\n${LINE_FORMAT_HELP}\n\nExample:\n  npm run backfill -- history.jsonl --rate 5000`,
  )
  .action((file: string, o: { rate: number; batch: number; rejects?: string; dryRun?: boolean }) =>
    runCommand(async () => {
      if (!existsSync(file)) throw new Error(`no such file: ${file}`);
      const config = loadConfig();
      const codec = AvroCodec.connect({ url: config.registryUrl });
      const total = await countLines(file);
      let producer: RecordProducer | undefined;
      let publisher: EventPublisher | null = null;
      if (!o.dryRun) {
        const kafka = new KafkaClient({
          brokers: config.kafka.brokers,
          clientId: `${config.kafka.clientId}-backfill`,
        });
        await ensureTopics(kafka, config);
        const topics = topicNames(config);
        await codec.registerAll(topics);
        producer = await kafka.producer();
        publisher = new EventPublisher(producer, codec, topics);
      }
      const shown: string[] = [];
      const bar = new CommandProgress(o.dryRun ? 'check' : 'backfill', 'lines', total);
      const rejectsFile = o.rejects ?? `${file}.rejects.jsonl`;
      try {
        const result = await runBackfill({
          file,
          rate: o.rate,
          batch: o.batch,
          maxDeliveredBatch: config.maxDeliveredBatch,
          rejectsFile,
          publisher,
          catalog: codec.catalog,
          onLine: (n) => bar.update(n),
          onReject: (n, error) => {
            if (shown.length < SHOWN_REJECTS) shown.push(`line ${n}: ${error}`);
          },
        });
        bar.stop();
        for (const line of shown) console.error(line);
        if (result.rejected > shown.length)
          console.error(`… and ${result.rejected - shown.length} more`);
        printSummary(
          o.dryRun
            ? `dry run: ${result.published} events would be published, nothing sent`
            : `published ${result.published} events from ${file}`,
          [
            ['lines', result.lines],
            ...Object.entries(result.byType).map(([t, n]): [string, number] => [`  ${t}`, n]),
            ['skipped (blank, #)', result.skipped],
            ['rejected', result.rejected],
            ...(result.rejectsFile
              ? [['rejects file', result.rejectsFile] as [string, string]]
              : []),
            ['elapsed', `${bar.elapsedSeconds.toFixed(1)} s (${bar.rate()} lines/s)`],
          ],
        );
        if (result.rejected > 0)
          throw new Error(
            `${result.rejected} line(s) rejected${result.rejectsFile ? ` — see ${result.rejectsFile}` : ''}`,
          );
      } finally {
        bar.stop();
        await producer?.close();
      }
    }),
  )
  .parse();
