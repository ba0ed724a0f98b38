import { ConfigError, devSecretProblem, isLoopback, loadConfig } from './config';
import { localUrls } from './local-stack';

function problemsFor(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected loadConfig to reject ' + JSON.stringify(env));
}

describe('loadConfig', () => {
  it('defaults point at the local stack', () => {
    const config = loadConfig({});
    expect(config.kafka.brokers).toEqual([localUrls.kafkaBrokers]);
    expect(config.registryUrl).toBe(localUrls.registryUrl);
    expect(config.redis.main).toEqual({ url: localUrls.redisMainUrl, cluster: false, seeds: [] });
    expect(config.redis.aux).toEqual({ url: localUrls.redisAuxUrl, cluster: false, seeds: [] });
    expect(config.windowMs).toBe(2000);
    expect(config.hotStateTtlSeconds).toBe(86_400);
    expect(config.durableTtlSeconds).toBe(90 * 86_400);
  });

  it('parses lists and numbers from the environment', () => {
    const config = loadConfig({
      TICKS_KAFKA_BROKERS: 'k1:9092, k2:9092',
      TICKS_PARTITIONS: '48',
      TICKS_CASSANDRA_CONTACT_POINTS: 'c1:9042,c2:9042,c3:9042',
      TICKS_CASSANDRA_REPLICATION: 'NetworkTopologyStrategy',
      TICKS_CASSANDRA_REPLICATION_FACTOR: '3',
    });
    expect(config.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(config.topics.partitions).toBe(48);
    expect(config.cassandra.contactPoints).toHaveLength(3);
    expect(config.cassandra.replication).toEqual({
      strategy: 'NetworkTopologyStrategy',
      factor: 3,
    });
  });

  it('has durable-state defaults: local quorum, a persister group of its own, 60 s flushes', () => {
    const config = loadConfig({});
    expect(config.cassandra).toMatchObject({
      writeConsistency: 'LOCAL_QUORUM',
      readConsistency: 'LOCAL_QUORUM',
    });
    expect(config.persister.groupId).toBe('ticks-persister');
    expect(config.persister.concurrency).toBeGreaterThan(0);
    expect(config.watermarkFlushIntervalMs).toBe(60_000);
  });

  it('reads the persister and consistency variables', () => {
    const config = loadConfig({
      TICKS_CASSANDRA_REPLICATION_FACTOR: '3',
      TICKS_CASSANDRA_WRITE_CONSISTENCY: 'QUORUM',
      TICKS_CASSANDRA_READ_CONSISTENCY: 'LOCAL_ONE',
      TICKS_PERSISTER_CONCURRENCY: '8',
      TICKS_PERSISTER_MAX_RETRIES: '2',
    });
    expect(config.cassandra.writeConsistency).toBe('QUORUM');
    expect(config.cassandra.readConsistency).toBe('LOCAL_ONE');
    expect(config.persister).toMatchObject({ concurrency: 8, maxRetries: 2 });
  });

  it.each([
    [
      'TICKS_KAFKA_BROKERS',
      'localhost',
      /TICKS_KAFKA_BROKERS="localhost": each entry must be host:port/,
    ],
    ['TICKS_KAFKA_BROKERS', '', /TICKS_KAFKA_BROKERS="": at least one host:port/],
    ['TICKS_PARTITIONS', 'six', /TICKS_PARTITIONS="six": must be a number/],
    ['TICKS_PARTITIONS', '0', /TICKS_PARTITIONS="0": must be at least 1/],
    ['TICKS_WINDOW_MS', '2.5', /TICKS_WINDOW_MS="2.5": must be an integer/],
    [
      'TICKS_REGISTRY_URL',
      'registry:8081',
      /TICKS_REGISTRY_URL=.*must be a URL starting with http:\/\//,
    ],
    ['TICKS_REDIS_URL', 'http://x:1', /TICKS_REDIS_URL=.*redis:\/\//],
    [
      'TICKS_CASSANDRA_KEYSPACE',
      'Bad-Name',
      /TICKS_CASSANDRA_KEYSPACE=.*lower-case CQL identifier/,
    ],
    ['TICKS_CASSANDRA_REPLICATION', 'Everywhere', /TICKS_CASSANDRA_REPLICATION=/],
    ['TICKS_LOG_LEVEL', 'loud', /TICKS_LOG_LEVEL=/],
    ['TICKS_CASSANDRA_WRITE_CONSISTENCY', 'MOST', /TICKS_CASSANDRA_WRITE_CONSISTENCY="MOST"/],
    ['TICKS_PERSISTER_CONCURRENCY', '0', /TICKS_PERSISTER_CONCURRENCY="0": must be at least 1/],
    ['TICKS_METRICS_PORT', '70000', /TICKS_METRICS_PORT="70000": must be at most 65535/],
  ])('%s=%p is rejected with a message naming it', (name, value, message) => {
    const problems = problemsFor({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it.each([
    [
      'TICKS_AUTH_SECRET',
      'hunter2-too-short',
      /TICKS_AUTH_SECRET=<hidden, 17 characters>: must be at least 32/,
    ],
    [
      'TICKS_REDIS_URL',
      'http://admin:hunter2@redis:6379',
      /TICKS_REDIS_URL="http:\/\/\*\*\*@redis:6379": .*redis:\/\//,
    ],
    ['TICKS_AUX_REDIS_URL', 'redis//user:hunter2@aux', /TICKS_AUX_REDIS_URL=/],
    ['TICKS_AUX_REDIS_URL', 'rediss//:hunter2@aux:6380', /TICKS_AUX_REDIS_URL=/],
    [
      'TICKS_REGISTRY_URL',
      'ftp://reg:hunter2@registry',
      /TICKS_REGISTRY_URL="ftp:\/\/\*\*\*@registry"/,
    ],
  ])('%s=%p: the problem names it without echoing the secret', (name, value, message) => {
    const problems = problemsFor({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
    expect(problems[0]).not.toContain('hunter2');
  });

  it('names a Redis Cluster by a seed URL (TLS, password) and more seeds, for main and aux', () => {
    const config = loadConfig({
      TICKS_REDIS_CLUSTER: 'true',
      TICKS_REDIS_URL: 'rediss://ticks:s3cret@clustercfg.example:6379',
      TICKS_REDIS_CLUSTER_SEEDS: 'n2.example:6379, n3.example:6379',
      TICKS_AUX_REDIS_CLUSTER: 'true',
      TICKS_AUX_REDIS_URL: 'redis://aux.example:6379',
    });
    expect(config.redis.main).toEqual({
      url: 'rediss://ticks:s3cret@clustercfg.example:6379',
      cluster: true,
      seeds: ['n2.example:6379', 'n3.example:6379'],
    });
    expect(config.redis.aux).toEqual({
      url: 'redis://aux.example:6379',
      cluster: true,
      seeds: [],
    });
  });

  it('refuses cluster seeds without the cluster flag, and bad seeds, naming the variables', () => {
    expect(problemsFor({ TICKS_AUX_REDIS_CLUSTER_SEEDS: 'n2:6379' })).toEqual([
      expect.stringMatching(
        /^TICKS_AUX_REDIS_CLUSTER_SEEDS names seed nodes but TICKS_AUX_REDIS_CLUSTER is not true/,
      ),
    ]);
    expect(
      problemsFor({ TICKS_REDIS_CLUSTER: 'yes', TICKS_REDIS_CLUSTER_SEEDS: 'n2' }).map(
        (p) => p.split('=')[0],
      ),
    ).toEqual(['TICKS_REDIS_CLUSTER', 'TICKS_REDIS_CLUSTER_SEEDS']);
  });

  it('reads TICKS_FAULT_KILL_AT (crash tests) as a stage and a delivery number, empty as none', () => {
    expect(loadConfig({}).faultKillAt).toBeNull();
    expect(loadConfig({ TICKS_FAULT_KILL_AT: 'produced:3' }).faultKillAt).toEqual({
      stage: 'produced',
      delivery: 3,
    });
    expect(loadConfig({ TICKS_FAULT_KILL_AT: 'flushed:34' }).faultKillAt).toEqual({
      stage: 'flushed',
      delivery: 34,
    });
    for (const bad of ['produced', 'committed:3', 'flushed:0', 'flushed:-1', 'produced:3x'])
      expect(problemsFor({ TICKS_FAULT_KILL_AT: bad })).toEqual([
        expect.stringMatching(/^TICKS_FAULT_KILL_AT=.*must be empty or <produced\|flushed>:<n>/),
      ]);
    expect(
      problemsFor({
        TICKS_FAULT_KILL_AT: 'produced:1',
        TICKS_PRODUCTION: 'true',
        TICKS_AUTH_SECRET: 's'.repeat(40),
      }),
    ).toEqual([expect.stringMatching(/TICKS_FAULT_KILL_AT must be empty in production/)]);
  });

  it('reports every bad variable at once', () => {
    const problems = problemsFor({ TICKS_PARTITIONS: 'x', TICKS_WINDOW_MS: 'y' });
    expect(problems.map((p) => p.split('=')[0])).toEqual(['TICKS_PARTITIONS', 'TICKS_WINDOW_MS']);
  });

  it.each([
    [{ TICKS_AUX_REDIS_URL: localUrls.redisMainUrl }, /TICKS_AUX_REDIS_URL must differ/],
    [{ TICKS_AUX_DEDUPE_TTL_SECONDS: '90000' }, /TICKS_AUX_DEDUPE_TTL_SECONDS must be below/],
    [{ TICKS_WINDOW_GRACE_MS: '2000' }, /TICKS_WINDOW_GRACE_MS must be below TICKS_WINDOW_MS/],
    [{ TICKS_PUNCTUATE_INTERVAL_MS: '1000' }, /TICKS_PUNCTUATE_INTERVAL_MS must be at most/],
    [{ TICKS_HOT_TTL_SECONDS: String(100 * 86_400) }, /TICKS_HOT_TTL_SECONDS must be below/],
    [
      {
        TICKS_PENDING_RECEIPT_WAIT_MS: '3600000',
        TICKS_HOT_TTL_SECONDS: '3600',
        TICKS_AUX_DEDUPE_TTL_SECONDS: '60',
      },
      /TICKS_PENDING_RECEIPT_WAIT_MS/,
    ],
    [
      { TICKS_CASSANDRA_WRITE_CONSISTENCY: 'TWO', TICKS_CASSANDRA_REPLICATION_FACTOR: '1' },
      /TICKS_CASSANDRA_WRITE_CONSISTENCY=TWO needs more replicas/,
    ],
    [
      { TICKS_CASSANDRA_READ_CONSISTENCY: 'THREE', TICKS_CASSANDRA_REPLICATION_FACTOR: '2' },
      /TICKS_CASSANDRA_READ_CONSISTENCY=THREE needs more replicas/,
    ],
    [
      { TICKS_CASSANDRA_WRITE_CONSISTENCY: 'EACH_QUORUM' },
      /EACH_QUORUM needs TICKS_CASSANDRA_REPLICATION=NetworkTopologyStrategy/,
    ],
    [{ TICKS_PERSISTER_GROUP_ID: 'ticks-processors' }, /TICKS_PERSISTER_GROUP_ID must differ/],
    [{ TICKS_PERSISTER_METRICS_PORT: '9464' }, /TICKS_PERSISTER_METRICS_PORT must differ/],
    [
      { TICKS_SESSION_TIMEOUT_MS: '6000' },
      /TICKS_PARTITION_LEASE_MS must be below TICKS_SESSION_TIMEOUT_MS/,
    ],
    [
      { TICKS_PARTITION_LEASE_MS: '30000' },
      /TICKS_PARTITION_LEASE_MS must be below TICKS_SESSION_TIMEOUT_MS/,
    ],
  ])('cross-field check %p', (env, message) => {
    const problems = problemsFor(env);
    expect(problems.some((p) => message.test(p))).toBe(true);
  });

  describe('the development secret (API and gateway)', () => {
    const secret = { TICKS_AUTH_SECRET: 's'.repeat(40) };

    it('is refused without dev mode, naming the variable to set', () => {
      expect(devSecretProblem(loadConfig({}))).toMatch(
        /TICKS_AUTH_SECRET is not set: .* set TICKS_AUTH_SECRET .* or TICKS_DEV_MODE=true/,
      );
    });

    it.each(['0.0.0.0', '::', '10.0.0.5', 'ticks.example.com'])(
      'is refused in dev mode beyond loopback (TICKS_API_HOST=%s)',
      (host) => {
        expect(
          devSecretProblem(loadConfig({ TICKS_DEV_MODE: 'true', TICKS_API_HOST: host })),
        ).toMatch(
          new RegExp(
            `TICKS_API_HOST=${host} is reachable beyond this machine: set TICKS_AUTH_SECRET`,
          ),
        );
      },
    );

    it.each(['127.0.0.1', 'localhost', '::1', '[::1]', '127.1.2.3'])(
      'is accepted in dev mode on loopback (%s)',
      (host) => {
        expect(isLoopback(host)).toBe(true);
        expect(
          devSecretProblem(loadConfig({ TICKS_DEV_MODE: 'true', TICKS_API_HOST: host })),
        ).toBeUndefined();
      },
    );

    it('is no concern once a secret is set, wherever the API listens', () => {
      expect(
        devSecretProblem(loadConfig({ ...secret, TICKS_API_HOST: '0.0.0.0' })),
      ).toBeUndefined();
    });

    it('dev mode is refused in production; tokens may not be issued to outlive the maximum', () => {
      expect(problemsFor({ ...secret, TICKS_DEV_MODE: 'true', TICKS_PRODUCTION: 'true' })).toEqual([
        expect.stringMatching(/TICKS_DEV_MODE=true cannot be set in production/),
      ]);
      expect(
        problemsFor({
          TICKS_AUTH_TOKEN_TTL_SECONDS: '7200',
          TICKS_AUTH_MAX_TOKEN_LIFETIME_SECONDS: '3600',
        }),
      ).toEqual([
        expect.stringMatching(
          /TICKS_AUTH_TOKEN_TTL_SECONDS must be at most TICKS_AUTH_MAX_TOKEN_LIFETIME_SECONDS/,
        ),
      ]);
    });
  });
});
