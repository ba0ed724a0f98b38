import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../config/config';
import { AvroCodec } from '../schemas/avro-codec';
import { KafkaClient } from '../runtime/kafka/kafka-client';
import { createLogger } from '../runtime/logger';
import { Pipeline } from '../services/pipeline';
import { topicNames } from '../runtime/topics';
import { CommandProgress, printSummary } from './cli/command-progress';
import { BoundedKafkaClient, resolveRanges, type RangeSpec } from './replay/replay-range';
import { runCommand } from './run-command';

interface ReplayCliOptions {
  from?: number;
  to?: number;
  fromOffset?: number;
  toOffset?: number;
  topics: string[];
  group?: string;
  keepGroup?: boolean;
  dryRun?: boolean;
}

const INPUTS = ['conversation_events', 'receipt_events'] as const;

function isoTime(value: string): number {
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t))
    throw new InvalidArgumentError('an ISO-8601 time, e.g. 2026-05-01T10:00:00Z');
  return t;
}

function offset(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

function inputTopics(value: string): string[] {
  const list = value.split(',').map((t) => t.trim());
  for (const t of list)
    if (!(INPUTS as readonly string[]).includes(t))
      throw new InvalidArgumentError(`input topics are ${INPUTS.join(' and ')}`);
  return list;
}

new Command('replay')
  .description(
    'Re-consume input topics over a time or offset range through the processors, to re-derive Redis state (after a bug fix, or a partial Redis loss). Uses a dedicated consumer group positioned at the range start, stops at the range end; effects are idempotent, so replaying twice changes nothing. Configured by TICKS_* variables.',
  )
  .option('--from <time>', 'first record time, ISO-8601 (inclusive)', isoTime)
  .option('--to <time>', 'last record time, ISO-8601 (exclusive; default: now)', isoTime)
  .option('--from-offset <n>', 'first offset in every partition (inclusive)', offset)
  .option('--to-offset <n>', 'end offset in every partition (exclusive; default: the end)', offset)
  .addOption(
    new Option('--topics <list>', 'input topics to replay, comma-separated')
      .argParser(inputTopics)
      .default([...INPUTS], INPUTS.join(',')),
  )
  .option('--group <id>', 'consumer group of the replay (default: <TICKS_GROUP_ID>-replay-<time>)')
  .option('--keep-group', 'keep the replay group afterwards (default: delete it)')
  .option('--dry-run', 'show the ranges and record counts; replay nothing')
  .addHelpText(
    'after',
    '\nExamples:\n  npm run replay -- --from 2026-05-01T10:00:00Z --to 2026-05-01T11:00:00Z\n  npm run replay -- --from-offset 0 --topics receipt_events --dry-run',
  )
  .action((options: ReplayCliOptions) =>
    runCommand(async () => {
      if (options.from !== undefined && options.fromOffset !== undefined)
        throw new Error('give --from or --from-offset, not both');
      if (options.to !== undefined && options.toOffset !== undefined)
        throw new Error('give --to or --to-offset, not both');
      const config = loadConfig();
      const names = topicNames(config);
      const byBase: Record<(typeof INPUTS)[number], string> = {
        conversation_events: names.conversationEvents,
        receipt_events: names.receiptEvents,
      };
      const selected = options.topics.map((t) => byBase[t as (typeof INPUTS)[number]]);
      const spec: RangeSpec = {
        fromTime: options.from,
        toTime: options.to ?? (options.toOffset === undefined ? Date.now() : undefined),
        fromOffset: options.fromOffset,
        toOffset: options.toOffset,
      };
      const admin = new KafkaClient({ brokers: config.kafka.brokers, clientId: 'ticks-replay' });
      const all = Object.values(byBase);
      const ranges = await admin.withAdmin(async (a) => {
        const counts = await a.partitionCounts(all);
        const missing = all.filter((t) => !counts.has(t));
        if (missing.length > 0)
          throw new Error(`topic ${missing.join(', ')} does not exist: nothing to replay`);
        return resolveRanges(a, all, spec).then((rs) =>
          // Unselected topics are positioned at their end: the processors see nothing of them.
          rs.map((r) => (selected.includes(r.topic) ? r : { ...r, start: r.end })),
        );
      });
      const total = ranges.reduce((n, r) => n + (r.end - r.start), 0);
      const rows = ranges
        .filter((r) => selected.includes(r.topic))
        .map((r): [string, string] => [
          `${r.topic}/${r.partition}`,
          `offsets ${r.start}..${r.end} (${r.end - r.start} records)`,
        ]);
      if (options.dryRun) {
        printSummary(`dry run: would replay ${total} records, nothing changed`, rows);
        return;
      }
      if (total === 0) {
        printSummary('nothing to replay: the range is empty', rows);
        return;
      }

      const group = options.group ?? `${config.kafka.groupId}-replay-${Date.now()}`;
      await admin.withAdmin(async (a) => {
        for (const topic of all)
          await a.setGroupOffsets(
            group,
            topic,
            new Map(
              ranges.filter((r) => r.topic === topic).map((r) => [r.partition, String(r.start)]),
            ),
          );
      });
      const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
      const kafka = new BoundedKafkaClient(
        { brokers: config.kafka.brokers, clientId: `${config.kafka.clientId}-replay`, logger },
        group,
        ranges,
      );
      const pipeline = new Pipeline({
        config,
        logger,
        codec: AvroCodec.connect({ url: config.registryUrl }),
        groupId: group,
        kafka,
        // Its own group, beside the processors that hold the partition leases: it takes none.
        partitionLeases: false,
      });
      const bar = new CommandProgress('replay', 'records', total);
      let interrupted = false;
      const interrupt = () => (interrupted = true);
      process.once('SIGINT', interrupt);
      process.once('SIGTERM', interrupt);
      let done: number;
      try {
        await pipeline.start();
        for (;;) {
          const committed = await admin.withAdmin(async (a) => {
            const byTopic = new Map<string, Map<number, string>>();
            for (const topic of all) byTopic.set(topic, await a.committedOffsets(group, topic));
            return byTopic;
          });
          done = ranges.reduce((n, r) => {
            const at = Number(committed.get(r.topic)?.get(r.partition) ?? -1);
            return n + Math.max(0, Math.min(at, r.end) - r.start);
          }, 0);
          bar.update(done);
          if (done >= total || interrupted) break;
          await new Promise((r) => setTimeout(r, 500));
        }
      } finally {
        bar.stop();
        await pipeline.stop();
        if (!options.keepGroup) await admin.withAdmin((a) => a.deleteGroup(group));
      }
      printSummary(
        interrupted
          ? `replay interrupted after ${done} of ${total} records`
          : `replayed ${done} records through the processors`,
        [
          ...rows,
          ['consumer group', `${group}${options.keepGroup ? ' (kept)' : ' (deleted)'}`],
          ['elapsed', `${bar.elapsedSeconds.toFixed(1)} s (${bar.rate()} records/s)`],
        ],
      );
      if (interrupted)
        throw new Error('replay interrupted; it is idempotent, run it again to finish');
    }),
  )
  .parse();
