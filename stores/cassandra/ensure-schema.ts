import type { TicksConfig } from '../../config/config';
import { connectCassandra } from './connect';
import { CassandraMigrator, type MigrationReport } from './migrator';

/**
 * Brings the keyspace up to date (a session without a keyspace: it may not exist yet). What
 * `npm run cassandra:migrate`, the run command, the persister and the test harness call.
 */
export async function ensureCassandraSchema(
  config: Pick<TicksConfig, 'cassandra'>,
): Promise<MigrationReport> {
  const client = await connectCassandra(config, { useKeyspace: false });
  try {
    return await new CassandraMigrator(client, config).migrate();
  } finally {
    await client.shutdown();
  }
}
