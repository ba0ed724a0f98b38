import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_VARIABLES, loadConfig, type TicksConfig } from './config';

function valueAt(config: TicksConfig, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config);
}

describe('the configuration table', () => {
  it('names each environment variable once, all with the TICKS_ prefix', () => {
    const names = CONFIG_VARIABLES.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^TICKS_[A-Z0-9_]+$/);
  });

  it('gives each variable a meaning and a place of its own in the configuration', () => {
    const paths = CONFIG_VARIABLES.map((v) => v.path);
    expect(new Set(paths).size).toBe(paths.length);
    for (const v of CONFIG_VARIABLES) expect(v.doc.length).toBeGreaterThan(0);
    const config = loadConfig({});
    for (const path of paths) expect(valueAt(config, path)).toBeDefined();
  });

  it('puts each variable at its path', () => {
    const config = loadConfig({
      TICKS_PENDING_RECEIPT_WAIT_MS: '4321',
      TICKS_PERSISTER_RETRY_BACKOFF_MS: '77',
      TICKS_CASSANDRA_REPLICATION_FACTOR: '3',
      TICKS_GATEWAY_MAX_BUFFERED_BYTES: '2048',
    });
    const heldReceiptWaitMs: number = config.heldReceiptWaitMs;
    expect(heldReceiptWaitMs).toBe(4321);
    expect(config.persister.retryBackoffMs).toBe(77);
    expect(config.cassandra.replication.factor).toBe(3);
    expect(config.gateway.maxBufferedBytes).toBe(2048);
    const byName = new Map(CONFIG_VARIABLES.map((v) => [v.name, v.path]));
    expect(byName.get('TICKS_PENDING_RECEIPT_WAIT_MS')).toBe('heldReceiptWaitMs');
    expect(byName.get('TICKS_CASSANDRA_REPLICATION_FACTOR')).toBe('cassandra.replication.factor');
  });

  it('reads TICKS_PRODUCTION as a boolean', () => {
    const secret = { TICKS_AUTH_SECRET: 's'.repeat(40) };
    expect(loadConfig({ ...secret, TICKS_PRODUCTION: 'true' }).auth.production).toBe(true);
    expect(loadConfig({ ...secret, TICKS_PRODUCTION: 'false' }).auth.production).toBe(false);
    expect(
      loadConfig({ ...secret, TICKS_PRODUCTION: 'false', NODE_ENV: 'production' }).auth.production,
    ).toBe(true);
  });

  it('knows every variable the README names, with the defaults it states', () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const known = new Map(CONFIG_VARIABLES.map((v) => [v.name, v.default]));
    // How the tests and the stack scripts get their servers (TICKS_TEST_STACK, TICKS_STACK_DIR,
    // TICKS_STACK_PORT_OFFSET): not the configuration of ticks itself.
    const notConfig = new Set(['TICKS_TEST_STACK', 'TICKS_STACK_DIR', 'TICKS_STACK_PORT_OFFSET']);
    const named = new Set(readme.match(/TICKS_[A-Z0-9_]+/g)?.filter((n) => !notConfig.has(n)));
    expect(named.size).toBeGreaterThan(20);
    for (const name of named) expect(known.has(name) ? name : `${name} (unknown)`).toBe(name);

    // Rows of one variable and one default in backquotes: | `NAME` | `default` | meaning |
    const rows = [...readme.matchAll(/^\| `(TICKS_[A-Z0-9_]+)` \| `([^`]*)` \|/gm)];
    expect(rows.length).toBeGreaterThan(5);
    for (const [, name, value] of rows) expect([name, known.get(name!)]).toEqual([name, value]);
  });
});
