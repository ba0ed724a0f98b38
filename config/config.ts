import { z } from 'zod';
import { localUrls, LOCAL_STACK } from './local-stack';

/**
 * All of ticks' configuration, read once from environment variables. Defaults point at the
 * local stack; pointing at production clusters is a matter of setting these variables.
 */
export interface TicksConfig {
  kafka: { brokers: string[]; clientId: string; groupId: string; sessionTimeoutMs: number };
  registryUrl: string;
  redis: { mainUrl: string; auxUrl: string; keyPrefix: string };
  cassandra: {
    contactPoints: string[];
    datacenter: string;
    keyspace: string;
    replication: { strategy: 'SimpleStrategy' | 'NetworkTopologyStrategy'; factor: number };
    writeConsistency: CassandraConsistency;
    readConsistency: CassandraConsistency;
    connectTimeoutMs: number;
  };
  persister: {
    groupId: string;
    /** Cassandra writes in flight at once, per persister process. */
    concurrency: number;
    maxRetries: number;
    retryBackoffMs: number;
    /** Coalesced watermarks held before an early flush (bounds memory under a key storm). */
    maxPendingWatermarks: number;
    metricsPort: number;
  };
  topics: {
    prefix: string;
    partitions: number;
    replicationFactor: number;
    retentionMs: number;
  };
  windowMs: number;
  windowGraceMs: number;
  punctuateIntervalMs: number;
  pendingReceiptWaitMs: number;
  hotStateTtlSeconds: number;
  auxDedupeTtlSeconds: number;
  durableTtlSeconds: number;
  watermarkFlushIntervalMs: number;
  maxDeliveredBatch: number;
  /** Records of one input topic a partition's processing step takes at most. */
  maxStepRecords: number;
  /** How long the shared producer waits to gather more steps' outputs into one request. */
  produceLingerMs: number;
  metricsPort: number;
  logLevel: string;
  /** Query API, push gateway and demo (api/, gateway/, processors/offline/). */
  api: {
    host: string;
    port: number;
    /** Largest request body accepted (413 above it). */
    maxBodyBytes: number;
  };
  gateway: {
    /** Bytes a socket may have queued and unsent before the gateway drops it as too slow. */
    maxBufferedBytes: number;
  };
  auth: {
    /** HMAC (HS256) secret of the bearer tokens. */
    secret: string;
    tokenTtlSeconds: number;
    /** True in production: the development secret is refused. */
    production: boolean;
  };
  offline: {
    /** Consumer group of the offline batcher (it has its own committed position). */
    groupId: string;
    /** How long coalesced updates and online-device marks of a user are kept. */
    ttlSeconds: number;
  };
}

/** Signs the tokens of a development setup; a production configuration refuses it. */
export const DEV_AUTH_SECRET = 'ticks-development-secret-do-not-use-in-production';

/** Cassandra consistency levels ticks accepts (names as in CQL). */
export const CASSANDRA_CONSISTENCIES = [
  'ONE',
  'TWO',
  'THREE',
  'QUORUM',
  'ALL',
  'LOCAL_QUORUM',
  'EACH_QUORUM',
  'LOCAL_ONE',
] as const;
export type CassandraConsistency = (typeof CASSANDRA_CONSISTENCIES)[number];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const hostPortList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'each entry must be host:port'))
      .min(1, 'at least one host:port is required'),
  );

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

const url = (protocols: string[]) =>
  z.string().refine(
    (s) => {
      try {
        return protocols.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
  );

/** Environment variable → schema and default. The variable names are the public contract. */
const ENV = {
  TICKS_KAFKA_BROKERS: { schema: hostPortList, default: localUrls.kafkaBrokers },
  TICKS_KAFKA_CLIENT_ID: { schema: z.string().min(1), default: 'ticks' },
  TICKS_GROUP_ID: { schema: z.string().min(1), default: 'ticks-processors' },
  TICKS_SESSION_TIMEOUT_MS: { schema: integer(6000, 300_000), default: '30000' },
  TICKS_REGISTRY_URL: { schema: url(['http:', 'https:']), default: localUrls.registryUrl },
  TICKS_REDIS_URL: { schema: url(['redis:', 'rediss:']), default: localUrls.redisMainUrl },
  TICKS_AUX_REDIS_URL: { schema: url(['redis:', 'rediss:']), default: localUrls.redisAuxUrl },
  TICKS_REDIS_KEY_PREFIX: {
    schema: z.string().regex(/^[A-Za-z0-9_.-]*$/, 'only letters, digits, _ . -'),
    default: 'ticks',
  },
  TICKS_CASSANDRA_CONTACT_POINTS: {
    schema: hostPortList,
    default: localUrls.cassandraContactPoints,
  },
  TICKS_CASSANDRA_DATACENTER: {
    schema: z.string().min(1),
    default: LOCAL_STACK.cassandra.datacenter,
  },
  TICKS_CASSANDRA_KEYSPACE: {
    schema: z.string().regex(/^[a-z][a-z0-9_]{0,47}$/, 'lower-case CQL identifier'),
    default: 'ticks',
  },
  TICKS_CASSANDRA_REPLICATION: {
    schema: z.enum(['SimpleStrategy', 'NetworkTopologyStrategy']),
    default: 'SimpleStrategy',
  },
  TICKS_CASSANDRA_REPLICATION_FACTOR: { schema: integer(1, 9), default: '1' },
  TICKS_CASSANDRA_WRITE_CONSISTENCY: {
    schema: z.enum(CASSANDRA_CONSISTENCIES),
    default: 'LOCAL_QUORUM',
  },
  TICKS_CASSANDRA_READ_CONSISTENCY: {
    schema: z.enum(CASSANDRA_CONSISTENCIES),
    default: 'LOCAL_QUORUM',
  },
  TICKS_CASSANDRA_CONNECT_TIMEOUT_MS: { schema: integer(500, 120_000), default: '5000' },
  TICKS_PERSISTER_GROUP_ID: { schema: z.string().min(1), default: 'ticks-persister' },
  TICKS_PERSISTER_CONCURRENCY: { schema: integer(1, 2048), default: '64' },
  TICKS_PERSISTER_MAX_RETRIES: { schema: integer(0, 100), default: '8' },
  TICKS_PERSISTER_RETRY_BACKOFF_MS: { schema: integer(1, 60_000), default: '100' },
  TICKS_PERSISTER_MAX_PENDING_WATERMARKS: { schema: integer(1, 10_000_000), default: '200000' },
  TICKS_PERSISTER_METRICS_PORT: { schema: integer(0, 65_535), default: '9465' },
  TICKS_TOPIC_PREFIX: {
    schema: z.string().regex(/^[A-Za-z0-9._-]*$/, 'only letters, digits, . _ -'),
    default: '',
  },
  TICKS_PARTITIONS: { schema: integer(1, 10_000), default: '6' },
  TICKS_REPLICATION_FACTOR: { schema: integer(1, 9), default: '1' },
  TICKS_RETENTION_MS: { schema: integer(60_000), default: String(7 * 24 * 3600 * 1000) },
  TICKS_WINDOW_MS: { schema: integer(100, 60_000), default: '2000' },
  TICKS_WINDOW_GRACE_MS: { schema: integer(0, 60_000), default: '0' },
  TICKS_PUNCTUATE_INTERVAL_MS: { schema: integer(10, 10_000), default: '100' },
  TICKS_PENDING_RECEIPT_WAIT_MS: { schema: integer(100, 3_600_000), default: '30000' },
  TICKS_HOT_TTL_SECONDS: { schema: integer(1), default: String(24 * 3600) },
  TICKS_AUX_DEDUPE_TTL_SECONDS: { schema: integer(1), default: String(3600) },
  TICKS_DURABLE_TTL_SECONDS: { schema: integer(1), default: String(90 * 24 * 3600) },
  TICKS_WATERMARK_FLUSH_INTERVAL_MS: { schema: integer(0), default: '60000' },
  TICKS_MAX_DELIVERED_BATCH: { schema: integer(1, 100_000), default: '1000' },
  TICKS_MAX_STEP_RECORDS: { schema: integer(1, 100_000), default: '1000' },
  TICKS_PRODUCE_LINGER_MS: { schema: integer(0, 1_000), default: '5' },
  TICKS_METRICS_PORT: { schema: integer(0, 65_535), default: '9464' },
  TICKS_API_HOST: { schema: z.string().min(1), default: '127.0.0.1' },
  TICKS_API_PORT: { schema: integer(0, 65_535), default: '8080' },
  TICKS_API_MAX_BODY_BYTES: {
    schema: integer(1024, 16 * 1024 * 1024),
    default: String(256 * 1024),
  },
  TICKS_GATEWAY_MAX_BUFFERED_BYTES: {
    schema: integer(1024, 256 * 1024 * 1024),
    default: String(1024 * 1024),
  },
  TICKS_AUTH_SECRET: {
    schema: z.string().min(32, 'must be at least 32 characters (HS256 secret)'),
    default: DEV_AUTH_SECRET,
  },
  TICKS_AUTH_TOKEN_TTL_SECONDS: { schema: integer(60, 365 * 24 * 3600), default: '86400' },
  TICKS_PRODUCTION: { schema: z.enum(['true', 'false']), default: 'false' },
  TICKS_OFFLINE_GROUP_ID: { schema: z.string().min(1), default: 'ticks-offline-batcher' },
  TICKS_OFFLINE_TTL_SECONDS: { schema: integer(60), default: String(24 * 3600) },
  TICKS_LOG_LEVEL: {
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
  },
} as const;

type EnvName = keyof typeof ENV;
type Parsed = { [K in EnvName]: z.output<(typeof ENV)[K]['schema']> };

export const CONFIG_VARIABLES: ReadonlyArray<{ name: string; default: string }> = Object.entries(
  ENV,
).map(([name, spec]) => ({ name, default: spec.default }));

/** Reads and validates the configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): TicksConfig {
  const problems: string[] = [];
  const values: Partial<Record<EnvName, unknown>> = {};
  for (const name of Object.keys(ENV) as EnvName[]) {
    const raw = env[name] ?? ENV[name].default;
    const result = ENV[name].schema.safeParse(raw);
    if (result.success) values[name] = result.data;
    else
      problems.push(
        `${name}=${JSON.stringify(raw)}: ${result.error.issues.map((i) => i.message).join('; ')}`,
      );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const v = values as Parsed;

  const config: TicksConfig = {
    kafka: {
      brokers: v.TICKS_KAFKA_BROKERS,
      clientId: v.TICKS_KAFKA_CLIENT_ID,
      groupId: v.TICKS_GROUP_ID,
      sessionTimeoutMs: v.TICKS_SESSION_TIMEOUT_MS,
    },
    registryUrl: v.TICKS_REGISTRY_URL,
    redis: {
      mainUrl: v.TICKS_REDIS_URL,
      auxUrl: v.TICKS_AUX_REDIS_URL,
      keyPrefix: v.TICKS_REDIS_KEY_PREFIX,
    },
    cassandra: {
      contactPoints: v.TICKS_CASSANDRA_CONTACT_POINTS,
      datacenter: v.TICKS_CASSANDRA_DATACENTER,
      keyspace: v.TICKS_CASSANDRA_KEYSPACE,
      replication: {
        strategy: v.TICKS_CASSANDRA_REPLICATION,
        factor: v.TICKS_CASSANDRA_REPLICATION_FACTOR,
      },
      writeConsistency: v.TICKS_CASSANDRA_WRITE_CONSISTENCY,
      readConsistency: v.TICKS_CASSANDRA_READ_CONSISTENCY,
      connectTimeoutMs: v.TICKS_CASSANDRA_CONNECT_TIMEOUT_MS,
    },
    persister: {
      groupId: v.TICKS_PERSISTER_GROUP_ID,
      concurrency: v.TICKS_PERSISTER_CONCURRENCY,
      maxRetries: v.TICKS_PERSISTER_MAX_RETRIES,
      retryBackoffMs: v.TICKS_PERSISTER_RETRY_BACKOFF_MS,
      maxPendingWatermarks: v.TICKS_PERSISTER_MAX_PENDING_WATERMARKS,
      metricsPort: v.TICKS_PERSISTER_METRICS_PORT,
    },
    topics: {
      prefix: v.TICKS_TOPIC_PREFIX,
      partitions: v.TICKS_PARTITIONS,
      replicationFactor: v.TICKS_REPLICATION_FACTOR,
      retentionMs: v.TICKS_RETENTION_MS,
    },
    windowMs: v.TICKS_WINDOW_MS,
    windowGraceMs: v.TICKS_WINDOW_GRACE_MS,
    punctuateIntervalMs: v.TICKS_PUNCTUATE_INTERVAL_MS,
    pendingReceiptWaitMs: v.TICKS_PENDING_RECEIPT_WAIT_MS,
    hotStateTtlSeconds: v.TICKS_HOT_TTL_SECONDS,
    auxDedupeTtlSeconds: v.TICKS_AUX_DEDUPE_TTL_SECONDS,
    durableTtlSeconds: v.TICKS_DURABLE_TTL_SECONDS,
    watermarkFlushIntervalMs: v.TICKS_WATERMARK_FLUSH_INTERVAL_MS,
    maxDeliveredBatch: v.TICKS_MAX_DELIVERED_BATCH,
    maxStepRecords: v.TICKS_MAX_STEP_RECORDS,
    produceLingerMs: v.TICKS_PRODUCE_LINGER_MS,
    metricsPort: v.TICKS_METRICS_PORT,
    logLevel: v.TICKS_LOG_LEVEL,
    api: {
      host: v.TICKS_API_HOST,
      port: v.TICKS_API_PORT,
      maxBodyBytes: v.TICKS_API_MAX_BODY_BYTES,
    },
    gateway: {
      maxBufferedBytes: v.TICKS_GATEWAY_MAX_BUFFERED_BYTES,
    },
    auth: {
      secret: v.TICKS_AUTH_SECRET,
      tokenTtlSeconds: v.TICKS_AUTH_TOKEN_TTL_SECONDS,
      production: v.TICKS_PRODUCTION === 'true' || env.NODE_ENV === 'production',
    },
    offline: { groupId: v.TICKS_OFFLINE_GROUP_ID, ttlSeconds: v.TICKS_OFFLINE_TTL_SECONDS },
  };
  const crossProblems = crossFieldProblems(config);
  if (crossProblems.length > 0) throw new ConfigError(crossProblems);
  return config;
}

function crossFieldProblems(c: TicksConfig): string[] {
  const problems: string[] = [];
  if (c.redis.mainUrl === c.redis.auxUrl)
    problems.push(
      'TICKS_AUX_REDIS_URL must differ from TICKS_REDIS_URL: the sender dedupe runs on its own Redis',
    );
  if (c.auxDedupeTtlSeconds >= c.hotStateTtlSeconds)
    problems.push(
      'TICKS_AUX_DEDUPE_TTL_SECONDS must be below TICKS_HOT_TTL_SECONDS: a dedupe mark saying the badge has a source, if it outlives the badge it guards, would hide a new unread sender',
    );
  if (c.windowGraceMs >= c.windowMs)
    problems.push('TICKS_WINDOW_GRACE_MS must be below TICKS_WINDOW_MS');
  if (c.punctuateIntervalMs > c.windowMs / 4)
    problems.push(
      'TICKS_PUNCTUATE_INTERVAL_MS must be at most a quarter of TICKS_WINDOW_MS, or windows close late',
    );
  if (c.hotStateTtlSeconds >= c.durableTtlSeconds)
    problems.push('TICKS_HOT_TTL_SECONDS must be below TICKS_DURABLE_TTL_SECONDS');
  if (c.pendingReceiptWaitMs >= c.hotStateTtlSeconds * 1000)
    problems.push(
      'TICKS_PENDING_RECEIPT_WAIT_MS must be below TICKS_HOT_TTL_SECONDS (held receipts live in Redis)',
    );
  if (c.auth.production && c.auth.secret === DEV_AUTH_SECRET)
    problems.push(
      'TICKS_AUTH_SECRET must be set in production (TICKS_PRODUCTION=true or NODE_ENV=production): the development secret signs tokens anyone can mint',
    );
  if (c.offline.groupId === c.kafka.groupId)
    problems.push(
      'TICKS_OFFLINE_GROUP_ID must differ from TICKS_GROUP_ID: the offline batcher has its own committed position',
    );
  problems.push(...cassandraProblems(c));
  if (c.persister.groupId === c.kafka.groupId)
    problems.push(
      'TICKS_PERSISTER_GROUP_ID must differ from TICKS_GROUP_ID: the persister keeps its own position in Kafka',
    );
  if (c.persister.metricsPort !== 0 && c.persister.metricsPort === c.metricsPort)
    problems.push(
      'TICKS_PERSISTER_METRICS_PORT must differ from TICKS_METRICS_PORT (0 picks a free port for either)',
    );
  return problems;
}

/** Replicas each consistency level needs in one datacenter (EACH_QUORUM: a quorum in each). */
function replicasNeeded(level: CassandraConsistency, factor: number): number {
  switch (level) {
    case 'ONE':
    case 'LOCAL_ONE':
      return 1;
    case 'TWO':
      return 2;
    case 'THREE':
      return 3;
    case 'ALL':
      return factor;
    default:
      return Math.floor(factor / 2) + 1;
  }
}

function cassandraProblems(c: TicksConfig): string[] {
  const problems: string[] = [];
  const { replication, writeConsistency, readConsistency } = c.cassandra;
  for (const [name, level] of [
    ['TICKS_CASSANDRA_WRITE_CONSISTENCY', writeConsistency],
    ['TICKS_CASSANDRA_READ_CONSISTENCY', readConsistency],
  ] as const) {
    if (replicasNeeded(level, replication.factor) > replication.factor)
      problems.push(
        `${name}=${level} needs more replicas than TICKS_CASSANDRA_REPLICATION_FACTOR=${replication.factor}: every request would fail`,
      );
    if (level === 'EACH_QUORUM' && replication.strategy !== 'NetworkTopologyStrategy')
      problems.push(
        `${name}=EACH_QUORUM needs TICKS_CASSANDRA_REPLICATION=NetworkTopologyStrategy`,
      );
  }
  if (readConsistency === 'EACH_QUORUM')
    problems.push(
      'TICKS_CASSANDRA_READ_CONSISTENCY=EACH_QUORUM is for writes; read with LOCAL_QUORUM or QUORUM',
    );
  return problems;
}
