import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from 'cassandra-driver';
import type { TicksConfig } from '../../config/config';
import { PROFILE } from './connect';

const MIGRATIONS_DIR = path.join(__dirname, 'migrations');

export interface Migration {
  version: number;
  name: string;
  checksum: string;
  /** Statements with {{keyspace}} and {{replication}} still in place. */
  statements: string[];
}

export interface MigrationReport {
  keyspace: string;
  applied: string[];
  alreadyApplied: string[];
  /** Set when the existing keyspace replicates differently from the configuration. */
  replicationWarning?: string;
}

/** A migration file changed after it was applied: add a new numbered file instead. */
export class MigrationChangedError extends Error {
  override readonly name = 'MigrationChangedError';
  readonly retriable = false;
}

/** Reads `NNN-name.cql` files in version order; statements end with `;`, `--` starts a comment line. */
export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cql'))
    .sort()
    .map((file) => {
      const match = /^(\d{3})-([a-z0-9-]+)\.cql$/.exec(file);
      if (!match) throw new Error(`migration ${file} must be named NNN-name.cql`);
      const text = readFileSync(path.join(dir, file), 'utf8');
      return {
        version: Number(match[1]),
        name: match[2]!,
        checksum: createHash('sha256').update(text).digest('hex').slice(0, 16),
        statements: splitStatements(text),
      };
    });
}

export function splitStatements(cql: string): string[] {
  const code = cql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n');
  return code
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** The CQL replication map the configuration asks for. */
export function replicationOf(config: Pick<TicksConfig, 'cassandra'>): Record<string, string> {
  const { strategy, factor } = config.cassandra.replication;
  return strategy === 'SimpleStrategy'
    ? { class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: String(factor) }
    : {
        class: 'org.apache.cassandra.locator.NetworkTopologyStrategy',
        [config.cassandra.datacenter]: String(factor),
      };
}

function cqlMap(map: Record<string, string>): string {
  return `{${Object.entries(map)
    .map(([k, v]) => `'${k}': '${v}'`)
    .join(', ')}}`;
}

export function render(statement: string, config: Pick<TicksConfig, 'cassandra'>): string {
  return statement
    .replaceAll('{{keyspace}}', config.cassandra.keyspace)
    .replaceAll('{{replication}}', cqlMap(replicationOf(config)));
}

/**
 * Applies the numbered .cql files that have not run yet, in order, and records each in
 * schema_migrations. Idempotent: every statement is IF NOT EXISTS, so two processes migrating at
 * once, or a run interrupted half-way, are harmless; the next run finishes the job.
 */
export class CassandraMigrator {
  constructor(
    private readonly client: Client,
    private readonly config: Pick<TicksConfig, 'cassandra'>,
    private readonly migrations: Migration[] = readMigrations(),
  ) {}

  /** What would run, without running it. */
  async pending(): Promise<Migration[]> {
    const applied = await this.appliedVersions().catch(() => new Map<number, string>());
    return this.migrations.filter((m) => !applied.has(m.version));
  }

  async migrate(): Promise<MigrationReport> {
    const ks = this.config.cassandra.keyspace;
    const report: MigrationReport = { keyspace: ks, applied: [], alreadyApplied: [] };
    // The first migration creates the keyspace and the bookkeeping table, so it always runs.
    const [first] = this.migrations;
    if (first) await this.run(first);
    const applied = await this.appliedVersions();
    for (const m of this.migrations) {
      const label = `${String(m.version).padStart(3, '0')}-${m.name}`;
      const known = applied.get(m.version);
      if (known !== undefined) {
        if (known !== m.checksum)
          throw new MigrationChangedError(
            `Cassandra migration ${label} was applied to keyspace ${ks} with checksum ${known} but the file now has ${m.checksum} — never edit an applied migration; add a new numbered file`,
          );
        report.alreadyApplied.push(label);
        continue;
      }
      if (m !== first) await this.run(m);
      await this.client.execute(
        `INSERT INTO ${ks}.schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, toTimestamp(now()))`,
        [m.version, m.name, m.checksum],
        { prepare: true, executionProfile: PROFILE.write },
      );
      report.applied.push(label);
    }
    report.replicationWarning = await this.replicationDrift();
    return report;
  }

  private async run(m: Migration): Promise<void> {
    for (const statement of m.statements)
      await this.client.execute(render(statement, this.config), [], {
        executionProfile: PROFILE.write,
      });
  }

  private async appliedVersions(): Promise<Map<number, string>> {
    const ks = this.config.cassandra.keyspace;
    const result = await this.client.execute(
      `SELECT version, checksum FROM ${ks}.schema_migrations`,
      [],
      { executionProfile: PROFILE.read },
    );
    return new Map(result.rows.map((r) => [Number(r['version']), String(r['checksum'])]));
  }

  private async replicationDrift(): Promise<string | undefined> {
    const ks = this.config.cassandra.keyspace;
    const result = await this.client.execute(
      'SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?',
      [ks],
      { prepare: true, executionProfile: PROFILE.read },
    );
    const actual = (result.first()?.['replication'] ?? {}) as Record<string, string>;
    const wanted = replicationOf(this.config);
    const same =
      Object.keys(wanted).length === Object.keys(actual).length &&
      Object.entries(wanted).every(([k, v]) => actual[k] === v);
    return same
      ? undefined
      : `keyspace ${ks} replicates as ${cqlMap(actual)} but the configuration asks for ${cqlMap(wanted)}; change it with ALTER KEYSPACE and run a repair`;
  }
}
