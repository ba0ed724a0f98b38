/**
 * The local stack itself: the servers the rest of the tests rely on are real, separate and
 * healthy, and docker-compose.yml describes the same stack. Runs under the jest global setup,
 * which has started the stack (or the containers) already.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'cassandra-driver';
import Redis from 'ioredis';
import { loadConfig } from '../config/config';
import { LOCAL_STACK } from '../config/local-stack';
import { readCompose } from '../scripts/stack/compose-file';
import { IMAGES, SERVICE_NAMES, VERSIONS } from '../scripts/stack/images';
import { mavenDir, REPO_ROOT } from '../scripts/stack/paths';
import { findPortOwner } from '../scripts/stack/ports';
import { SERVER_NAMES, serversNamed } from '../scripts/stack/servers';

const config = loadConfig();
const usingContainers = process.env.TICKS_TEST_STACK === 'containers';

function serverId(info: string): string | undefined {
  return /^run_id:(\w+)/m.exec(info)?.[1];
}

describe('Redis main and aux', () => {
  const main = new Redis(config.redis.main.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const aux = new Redis(config.redis.aux.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const key = `ticks-stack-test:${randomUUID()}`;

  beforeAll(async () => {
    await Promise.all([main.connect(), aux.connect()]);
  });

  afterAll(async () => {
    await Promise.all([main.del(key), aux.del(key)]);
    main.disconnect();
    aux.disconnect();
  });

  it('are two distinct servers', async () => {
    const [mainInfo, auxInfo] = await Promise.all([main.info('server'), aux.info('server')]);
    expect(serverId(mainInfo)).toBeDefined();
    expect(serverId(auxInfo)).toBeDefined();
    expect(serverId(mainInfo)).not.toEqual(serverId(auxInfo));
  });

  it('do not share keys', async () => {
    await main.set(key, 'main-only', 'EX', 60);
    expect(await main.get(key)).toBe('main-only');
    expect(await aux.exists(key)).toBe(0);
  });

  it('persist with an append-only file', async () => {
    for (const r of [main, aux]) {
      const [, value] = (await r.config('GET', 'appendonly')) as [string, string];
      expect(value).toBe('yes');
    }
  });
});

describe('Cassandra', () => {
  const keyspace = `ticks_stack_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const client = new Client({
    contactPoints: config.cassandra.contactPoints,
    localDataCenter: config.cassandra.datacenter,
  });

  afterAll(async () => {
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
    await client.shutdown();
  });

  it('creates a keyspace and a table, writes a row and reads it back', async () => {
    await client.execute(
      `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    );
    await client.execute(`CREATE TABLE ${keyspace}.probe (id text PRIMARY KEY, value int)`);
    await client.execute(`INSERT INTO ${keyspace}.probe (id, value) VALUES (?, ?)`, ['a', 42], {
      prepare: true,
    });
    const rs = await client.execute(`SELECT value FROM ${keyspace}.probe WHERE id = ?`, ['a'], {
      prepare: true,
    });
    expect(rs.first()?.get('value')).toBe(42);
  });
});

describe('stack status', () => {
  it('reports every server healthy and exits 0', async () => {
    const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    const { stdout } = await promisify(execFile)(tsx, ['scripts/stack/cli.ts', 'status'], {
      cwd: REPO_ROOT,
      timeout: 60_000,
    });
    for (const name of SERVER_NAMES) {
      expect(stdout).toMatch(new RegExp(`^${name}\\s+\\S+\\s+healthy`, 'm'));
    }
  });
});

describe('a second checkout', () => {
  // Its own .stack (TICKS_STACK_DIR): none of the running servers is its own.
  const run = (command: string) =>
    promisify(execFile)(
      path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'),
      ['scripts/stack/cli.ts', command],
      {
        cwd: REPO_ROOT,
        timeout: 120_000,
        env: { ...process.env, TICKS_STACK_DIR: fs.mkdtempSync('/tmp/ticks-second-stack-') },
      },
    );

  it('uses the healthy servers another checkout started, and never stops them', async () => {
    const { stdout } = await run('up');
    for (const name of SERVER_NAMES)
      expect(stdout).toMatch(
        new RegExp(`^${name}\\s+\\S+\\s+healthy \\(another process serves it`, 'm'),
      );
    await run('down');
    const status = await run('status');
    for (const name of SERVER_NAMES)
      expect(status.stdout).toMatch(new RegExp(`^${name}\\s+\\S+\\s+healthy`, 'm'));
  }, 180_000);
});

describe('docker-compose.yml', () => {
  const services = readCompose();
  const byName = new Map(services.map((s) => [s.name, s]));
  const hostPorts: Record<string, number> = {
    kafka: LOCAL_STACK.kafka.port,
    registry: LOCAL_STACK.registry.port,
    'redis-main': LOCAL_STACK.redisMain.port,
    'redis-aux': LOCAL_STACK.redisAux.port,
    cassandra: LOCAL_STACK.cassandra.port,
  };

  it('has the same services as the local stack, with the shared images', () => {
    expect([...byName.keys()].sort()).toEqual([...SERVICE_NAMES].sort());
    expect([...SERVER_NAMES].sort()).toEqual([...SERVICE_NAMES].sort());
    for (const name of SERVICE_NAMES) expect(byName.get(name)?.image).toBe(IMAGES[name]);
  });

  it('publishes the ports of config/local-stack.ts', () => {
    for (const [name, port] of Object.entries(hostPorts)) {
      expect(byName.get(name)?.ports.map((p) => p.host)).toEqual([port]);
    }
    const kafkaEnv = byName.get('kafka')?.environment ?? {};
    expect(kafkaEnv.KAFKA_ADVERTISED_LISTENERS).toBe(
      `PLAINTEXT://${LOCAL_STACK.host}:${LOCAL_STACK.kafka.port}`,
    );
  });

  it('persists Redis and the registry like the local stack', () => {
    for (const name of ['redis-main', 'redis-aux']) {
      expect(byName.get(name)?.command?.join(' ')).toContain('--appendonly yes');
      expect(byName.get(name)?.volumes.length).toBeGreaterThan(0);
    }
    const registry = byName.get('registry');
    expect(registry?.environment.APICURIO_STORAGE_KIND).toBe('sql');
    expect(registry?.environment.APICURIO_DATASOURCE_URL).toMatch(/^jdbc:h2:file:/);
    expect(registry?.volumes.length).toBeGreaterThan(0);
    for (const s of services) expect(s.healthcheck).toBeDefined();
  });

  it('uses the versions that the Maven POMs fetch for the local stack', () => {
    const pom = (file: string): string => fs.readFileSync(path.join(mavenDir, file), 'utf8');
    expect(pom('kafka.pom.xml')).toContain(`<kafka.version>${VERSIONS.kafka}</kafka.version>`);
    expect(pom('cassandra.pom.xml')).toContain(
      `<cassandra.version>${VERSIONS.cassandra}</cassandra.version>`,
    );
  });
});

(usingContainers ? describe.skip : describe)('local stack processes', () => {
  it('writes a pid file per server it runs under .stack/run', () => {
    // A server another checkout runs (its command line names that checkout) is used as it is,
    // with no pid file here; one this checkout runs must have its pid file.
    const ours = serversNamed(SERVER_NAMES).filter((s) => {
      const owner = findPortOwner(s.ports[0]!);
      return owner === undefined || owner.command.includes(REPO_ROOT);
    });
    for (const { name } of ours)
      expect(
        fs.existsSync(path.join(REPO_ROOT, '.stack', 'run', `${name}.pid`))
          ? name
          : `${name}: no pid file`,
      ).toBe(name);
  });
});
