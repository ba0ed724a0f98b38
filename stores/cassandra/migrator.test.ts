import { loadConfig } from '../../config/config';
import { readMigrations, render, replicationOf, splitStatements } from './migrator';

describe('Cassandra migrations', () => {
  it('are numbered files, in order, each a list of idempotent statements', () => {
    const migrations = readMigrations();
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
    for (const m of migrations)
      for (const statement of m.statements) expect(statement).toMatch(/^CREATE \w+ IF NOT EXISTS /);
  });

  it('splits statements at the semicolons that end a line, without the comment lines', () => {
    expect(splitStatements('-- a comment; still\nCREATE A;\n\nCREATE B\n  WITH x;\n')).toEqual([
      'CREATE A',
      'CREATE B\n  WITH x',
    ]);
  });

  it('renders the keyspace and the configured replication', () => {
    const simple = loadConfig({ TICKS_CASSANDRA_KEYSPACE: 'ks' });
    expect(render('CREATE KEYSPACE {{keyspace}} WITH replication = {{replication}}', simple)).toBe(
      "CREATE KEYSPACE ks WITH replication = {'class': 'org.apache.cassandra.locator.SimpleStrategy', 'replication_factor': '1'}",
    );
    const nts = loadConfig({
      TICKS_CASSANDRA_REPLICATION: 'NetworkTopologyStrategy',
      TICKS_CASSANDRA_REPLICATION_FACTOR: '3',
      TICKS_CASSANDRA_DATACENTER: 'eu-west',
    });
    expect(replicationOf(nts)).toEqual({
      class: 'org.apache.cassandra.locator.NetworkTopologyStrategy',
      'eu-west': '3',
    });
  });
});
