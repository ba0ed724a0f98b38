import type { TicksConfig } from '../../config/config';
import { connectCassandra } from '../../stores/cassandra/connect';

/** The keyspace of a bench run's persister: dropped with the run. */
export function runKeyspace(id: string): string {
  return `bench_${id.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
}

/** Drops a run's keyspace, if it was created (cleanup after the run or a killed run). */
export async function dropRunKeyspace(
  id: string,
  config: Pick<TicksConfig, 'cassandra'>,
): Promise<boolean> {
  const keyspace = runKeyspace(id);
  const client = await connectCassandra(config, { useKeyspace: false });
  try {
    const found = await client.execute(
      'SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?',
      [keyspace],
    );
    if (found.rowLength === 0) return false;
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    return true;
  } finally {
    await client.shutdown();
  }
}
