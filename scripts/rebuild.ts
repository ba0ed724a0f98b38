import { Command, InvalidArgumentError } from 'commander';
import { loadConfig, type TicksConfig } from '../config/config';
import { connectCassandra } from '../stores/cassandra/connect';
import { DurableStateReader } from '../stores/cassandra/durable-state-reader';
import { connectRedis } from '../stores/redis/connect';
import { HotStateRestorer } from '../stores/redis/hot-state-restorer';
import { RedisKeys } from '../stores/redis/keys';
import { KafkaClient } from '../runtime/kafka/kafka-client';
import { topicNames } from '../runtime/topics';
import { CommandProgress, printSummary } from './cli/command-progress';
import { formatDuration, parseDuration } from './cli/duration';
import { HotStateRebuilder, NOT_REBUILT } from './rebuild/hot-state-rebuilder';
import { runCommand } from './run-command';

interface RebuildCliOptions {
  activeWithin?: number;
  all?: boolean;
  dryRun?: boolean;
  force?: boolean;
  waitForPersister: number;
  skipPersisterCheck?: boolean;
  concurrency: number;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

async function preflight(config: TicksConfig, options: RebuildCliOptions): Promise<void> {
  const kafka = new KafkaClient({ brokers: config.kafka.brokers, clientId: 'ticks-rebuild' });
  const topics = topicNames(config);
  await kafka.withAdmin(async (admin) => {
    const running = await admin.groupMemberCount(config.kafka.groupId);
    if (running > 0 && !options.force)
      throw new Error(
        `the processors are running (${running} member(s) in consumer group ${config.kafka.groupId}): stop them before rebuilding, or pass --force`,
      );
    if (options.skipPersisterCheck) return;
    // Cassandra holds the changelog up to the persister's committed offsets: wait for the rest.
    const deadline = Date.now() + options.waitForPersister * 1000;
    for (;;) {
      const lag = await admin.groupLag(config.persister.groupId, [topics.stateChanges]);
      if (lag === 0) return;
      if (Date.now() >= deadline)
        throw new Error(
          `the persister (group ${config.persister.groupId}) is ${lag} changelog record(s) behind, so Cassandra misses recent state: run \`npm run persister\` until it catches up, or pass --skip-persister-check to rebuild from what Cassandra has`,
        );
      await new Promise((r) => setTimeout(r, 500));
    }
  });
}

new Command('rebuild')
  .description(
    "Rebuild Redis hot state from Cassandra after a Redis loss: conversations' members, watermarks, messages (unread state), read/delivery logs; users' badges and conversation lists; clears the auxiliary dedupe marks. Stop the processors first; the persister must have caught up. Configured by TICKS_* variables.",
  )
  .option(
    '--active-within <duration>',
    'only conversations with a message or membership change this recent, e.g. 24h (default: TICKS_HOT_TTL_SECONDS, what Redis held)',
    parseDuration,
  )
  .option('--all', 'every conversation in Cassandra, however idle')
  .option('--dry-run', 'read Cassandra and report what would be written; write nothing')
  .option('--force', 'rebuild even while processors are running (they may race the rebuild)')
  .option(
    '--wait-for-persister <seconds>',
    'how long to wait for the persister to catch up',
    positiveInt,
    120,
  )
  .option('--skip-persister-check', 'do not check that the persister caught up')
  .option('--concurrency <n>', 'conversations rebuilt at once', positiveInt, 16)
  .action((options: RebuildCliOptions) =>
    runCommand(async () => {
      const config = loadConfig();
      const hotTtlMs = config.hotStateTtlSeconds * 1000;
      const activeWithinMs = options.all ? null : (options.activeWithin ?? hotTtlMs);
      await preflight(config, options);
      const cassandra = await connectCassandra(config);
      const main = await connectRedis(config.redis.main, 'main');
      const aux = await connectRedis(config.redis.aux, 'auxiliary');
      let bar: CommandProgress | undefined;
      try {
        const rebuilder = new HotStateRebuilder(
          new DurableStateReader(cassandra),
          new HotStateRestorer(
            main,
            aux,
            new RedisKeys(config.redis.keyPrefix),
            config.hotStateTtlSeconds,
          ),
        );
        const started = Date.now();
        const summary = await rebuilder.run(
          {
            activeWithinMs,
            recentMs: hotTtlMs,
            dryRun: options.dryRun === true,
            concurrency: options.concurrency,
          },
          {
            started: (total) => (bar = new CommandProgress('rebuild', 'conversations', total)),
            conversationDone: () => bar?.increment(),
          },
        );
        bar?.stop();
        const seconds = (Date.now() - started) / 1000;
        printSummary(
          options.dryRun
            ? `dry run: nothing written; a rebuild of Redis prefix ${config.redis.keyPrefix} would restore`
            : `rebuilt Redis prefix ${config.redis.keyPrefix} from Cassandra keyspace ${config.cassandra.keyspace}`,
          [
            ['conversations', summary.conversations],
            [
              'skipped (idle)',
              `${summary.skippedIdle} (idle for longer than ${activeWithinMs === null ? '∞' : formatDuration(activeWithinMs)})`,
            ],
            ['members', summary.members],
            ['messages', summary.messages],
            ['read log entries', summary.readAdvances],
            ['delivered log entries', summary.deliveredAdvances],
            ['deliveries by id', summary.deliveredById],
            ['badge sources', summary.badgeSources],
            ['conversation-list entries', summary.listEntries],
            [
              options.dryRun ? 'dedupe marks to clear' : 'dedupe marks cleared',
              summary.dedupeMarksCleared,
            ],
            [
              'elapsed',
              `${seconds.toFixed(1)} s (${(summary.conversations / Math.max(seconds, 0.001)).toFixed(0)} conversations/s)`,
            ],
          ],
        );
        console.log('not rebuilt (only Redis had it):');
        for (const line of NOT_REBUILT) console.log(`  - ${line}`);
      } finally {
        bar?.stop();
        await cassandra.shutdown();
        main.disconnect();
        aux.disconnect();
      }
    }),
  )
  .parse();
