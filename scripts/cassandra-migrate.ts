import { Command } from 'commander';
import { loadConfig } from '../config/config';
import { connectCassandra } from '../stores/cassandra/connect';
import { CassandraMigrator, replicationOf } from '../stores/cassandra/migrator';
import { printSummary } from './cli/command-progress';
import { runCommand } from './run-command';

new Command('cassandra:migrate')
  .description(
    'Create or update the Cassandra keyspace and tables (stores/cassandra/migrations/NNN-*.cql, applied in order, each once). Idempotent; the run command, the persister and the tests run it too. Configured by TICKS_CASSANDRA_* variables.',
  )
  .option('--dry-run', 'list the migrations that would run, change nothing')
  .action((opts: { dryRun?: boolean }) =>
    runCommand(async () => {
      const config = loadConfig();
      const client = await connectCassandra(config, { useKeyspace: false });
      try {
        const migrator = new CassandraMigrator(client, config);
        const { keyspace } = config.cassandra;
        if (opts.dryRun) {
          const pending = await migrator.pending();
          printSummary(`dry run: keyspace ${keyspace}, nothing changed`, [
            [
              'would apply',
              pending.map((m) => `${String(m.version).padStart(3, '0')}-${m.name}`).join(', ') ||
                'nothing',
            ],
            ['replication', JSON.stringify(replicationOf(config))],
          ]);
          return;
        }
        const report = await migrator.migrate();
        printSummary(`keyspace ${keyspace} is up to date`, [
          ['applied now', report.applied.join(', ') || 'nothing'],
          ['already applied', report.alreadyApplied.join(', ') || 'nothing'],
          ['contact points', config.cassandra.contactPoints.join(',')],
        ]);
        if (report.replicationWarning) console.error(`warning: ${report.replicationWarning}`);
      } finally {
        await client.shutdown();
      }
    }),
  )
  .parse();
