import { z } from 'zod';
import { type ConfigOf, type ConfigTable, variable } from './config-variable';
import { localUrls, LOCAL_STACK } from './local-stack';
import { hiddenSecret, withoutPassword } from './redact';
import {
  faultPoint,
  flag,
  hostPortList,
  integer,
  optionalHostPortList,
  url,
} from './value-schemas';

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

const redisUrl = url(['redis:', 'rediss:']);
/** Problems show these without their password. */
const shownUrl = (raw: string) => JSON.stringify(withoutPassword(raw));
const nonEmpty = z.string().min(1);
const consistency = z.enum(CASSANDRA_CONSISTENCIES);

/**
 * The variables of one Redis (main or auxiliary): a single server, or a Redis Cluster reached
 * through seed nodes. The URL carries what every node shares: TLS (rediss:), user and password.
 */
function redisServer(spec: {
  role: 'main' | 'auxiliary';
  prefix: 'TICKS_REDIS' | 'TICKS_AUX_REDIS';
  default: string;
  doc: string;
}) {
  return {
    url: variable({
      env: `${spec.prefix}_URL`,
      schema: redisUrl,
      default: spec.default,
      doc: `${spec.doc}; with ${spec.prefix}_CLUSTER=true, one seed node of the cluster and the scheme (rediss: TLS), user and password of every node`,
      shown: shownUrl,
    }),
    cluster: variable({
      env: `${spec.prefix}_CLUSTER`,
      schema: flag,
      default: 'false',
      doc: `true: the ${spec.role} Redis is a Redis Cluster (ioredis' cluster client: keys spread over its masters, MOVED/ASK and failovers followed)`,
    }),
    seeds: variable({
      env: `${spec.prefix}_CLUSTER_SEEDS`,
      schema: optionalHostPortList,
      default: '',
      doc: `more seed nodes of the ${spec.role} Redis Cluster (host:port, comma-separated), tried when the URL's node does not answer; empty: the URL's node only`,
    }),
  };
}

/**
 * Every configuration variable, declared once: its place here is its path in the configuration
 * object, and `variable()` gives its environment name (the public contract: never rename one
 * without keeping the old name working), its schema, its default and what it means. The
 * TicksConfig type and the reading of the environment are both derived from this table; the
 * checks that span variables are in config.ts. Defaults point at the local stack.
 *
 * The order is the order problems are reported in.
 */
export const CONFIG_TABLE = {
  kafka: {
    brokers: variable({
      env: 'TICKS_KAFKA_BROKERS',
      schema: hostPortList,
      default: localUrls.kafkaBrokers,
      doc: 'bootstrap brokers, comma-separated',
    }),
    clientId: variable({
      env: 'TICKS_KAFKA_CLIENT_ID',
      schema: nonEmpty,
      default: 'ticks',
      doc: "Kafka client id of the processors (the other deployables add a suffix: '-api', ...)",
    }),
    groupId: variable({
      env: 'TICKS_GROUP_ID',
      schema: nonEmpty,
      default: 'ticks-processors',
      doc: 'consumer group of the processors',
    }),
    sessionTimeoutMs: variable({
      env: 'TICKS_SESSION_TIMEOUT_MS',
      schema: integer(6000, 300_000),
      default: '10000',
      doc: 'consumer group session timeout: how long a silent member (a killed process) keeps its partitions; heartbeats go every second (a third of it if that is shorter)',
    }),
    sendTimeoutMs: variable({
      env: 'TICKS_KAFKA_SEND_TIMEOUT_MS',
      schema: integer(500, 300_000),
      default: '10000',
      doc: "how long a produce request waits for Kafka's acknowledgement before it fails (the API answers 503, a pipeline step is retried)",
    }),
  },
  registryUrl: variable({
    env: 'TICKS_REGISTRY_URL',
    schema: url(['http:', 'https:']),
    default: localUrls.registryUrl,
    doc: 'Confluent-compatible schema registry',
    shown: shownUrl,
  }),
  registryTimeoutMs: variable({
    env: 'TICKS_REGISTRY_TIMEOUT_MS',
    schema: integer(100, 120_000),
    default: '10000',
    doc: 'how long one schema registry call (lookup, registration, schema by id) may wait for an answer',
  }),
  redis: {
    main: redisServer({
      role: 'main',
      prefix: 'TICKS_REDIS',
      default: localUrls.redisMainUrl,
      doc: 'main Redis: hot state',
    }),
    aux: redisServer({
      role: 'auxiliary',
      prefix: 'TICKS_AUX_REDIS',
      default: localUrls.redisAuxUrl,
      doc: 'auxiliary Redis: the badge dedupe marks (must differ from the main one)',
    }),
    keyPrefix: variable({
      env: 'TICKS_REDIS_KEY_PREFIX',
      schema: z.string().regex(/^[A-Za-z0-9_.-]*$/, 'only letters, digits, _ . -'),
      default: 'ticks',
      doc: 'prefix of every Redis key',
    }),
  },
  cassandra: {
    contactPoints: variable({
      env: 'TICKS_CASSANDRA_CONTACT_POINTS',
      schema: hostPortList,
      default: localUrls.cassandraContactPoints,
      doc: 'Cassandra nodes, comma-separated host:port',
    }),
    datacenter: variable({
      env: 'TICKS_CASSANDRA_DATACENTER',
      schema: nonEmpty,
      default: LOCAL_STACK.cassandra.datacenter,
      doc: 'local datacenter of the Cassandra driver',
    }),
    keyspace: variable({
      env: 'TICKS_CASSANDRA_KEYSPACE',
      schema: z.string().regex(/^[a-z][a-z0-9_]{0,47}$/, 'lower-case CQL identifier'),
      default: 'ticks',
      doc: 'keyspace of the durable state',
    }),
    replication: {
      strategy: variable({
        env: 'TICKS_CASSANDRA_REPLICATION',
        schema: z.enum(['SimpleStrategy', 'NetworkTopologyStrategy']),
        default: 'SimpleStrategy',
        doc: 'replication strategy of the keyspace',
      }),
      factor: variable({
        env: 'TICKS_CASSANDRA_REPLICATION_FACTOR',
        schema: integer(1, 9),
        default: '1',
        doc: 'replicas of each row (per datacenter with NetworkTopologyStrategy)',
      }),
    },
    writeConsistency: variable({
      env: 'TICKS_CASSANDRA_WRITE_CONSISTENCY',
      schema: consistency,
      default: 'LOCAL_QUORUM',
      doc: 'consistency level of the persister writes',
    }),
    readConsistency: variable({
      env: 'TICKS_CASSANDRA_READ_CONSISTENCY',
      schema: consistency,
      default: 'LOCAL_QUORUM',
      doc: 'consistency level of the Cassandra reads',
    }),
    connectTimeoutMs: variable({
      env: 'TICKS_CASSANDRA_CONNECT_TIMEOUT_MS',
      schema: integer(500, 120_000),
      default: '5000',
      doc: 'how long connecting to a Cassandra node may take',
    }),
  },
  persister: {
    groupId: variable({
      env: 'TICKS_PERSISTER_GROUP_ID',
      schema: nonEmpty,
      default: 'ticks-persister',
      doc: 'consumer group of the persister (its own position in Kafka)',
    }),
    concurrency: variable({
      env: 'TICKS_PERSISTER_CONCURRENCY',
      schema: integer(1, 2048),
      default: '64',
      doc: 'Cassandra writes in flight at once, per persister process',
    }),
    maxRetries: variable({
      env: 'TICKS_PERSISTER_MAX_RETRIES',
      schema: integer(0, 100),
      default: '8',
      doc: 'retries of one Cassandra write after its first failure',
    }),
    retryBackoffMs: variable({
      env: 'TICKS_PERSISTER_RETRY_BACKOFF_MS',
      schema: integer(1, 60_000),
      default: '100',
      doc: 'first backoff before a retry; it doubles per retry',
    }),
    maxPendingWatermarks: variable({
      env: 'TICKS_PERSISTER_MAX_PENDING_WATERMARKS',
      schema: integer(1, 10_000_000),
      default: '200000',
      doc: 'coalesced watermarks held before an early flush (bounds memory under a key storm)',
    }),
    metricsPort: variable({
      env: 'TICKS_PERSISTER_METRICS_PORT',
      schema: integer(0, 65_535),
      default: '9465',
      doc: "the persister's /metrics and health probes (0: a free port)",
    }),
  },
  topics: {
    prefix: variable({
      env: 'TICKS_TOPIC_PREFIX',
      schema: z.string().regex(/^[A-Za-z0-9._-]*$/, 'only letters, digits, . _ -'),
      default: '',
      doc: 'prefix of every topic name',
    }),
    partitions: variable({
      env: 'TICKS_PARTITIONS',
      schema: integer(1, 10_000),
      default: '6',
      doc: 'partitions of the topics ticks creates',
    }),
    replicationFactor: variable({
      env: 'TICKS_REPLICATION_FACTOR',
      schema: integer(1, 9),
      default: '1',
      doc: 'replication factor of the topics ticks creates',
    }),
    retentionMs: variable({
      env: 'TICKS_RETENTION_MS',
      schema: integer(60_000),
      default: String(7 * 24 * 3600 * 1000),
      doc: 'retention of the topics ticks creates with delete cleanup (not the compacted ones)',
    }),
  },
  windowMs: variable({
    env: 'TICKS_WINDOW_MS',
    schema: integer(100, 60_000),
    default: '2000',
    doc: 'group window size',
  }),
  windowGraceMs: variable({
    env: 'TICKS_WINDOW_GRACE_MS',
    schema: integer(0, 60_000),
    default: '0',
    doc: 'how long after its end a window closes',
  }),
  punctuateIntervalMs: variable({
    env: 'TICKS_PUNCTUATE_INTERVAL_MS',
    schema: integer(10, 10_000),
    default: '100',
    doc: 'how often the wall-clock punctuators (window closing, held receipts) run',
  }),
  // "Pending" in the variable's name is kept for compatibility; the code calls these receipts held.
  heldReceiptWaitMs: variable({
    env: 'TICKS_PENDING_RECEIPT_WAIT_MS',
    schema: integer(100, 3_600_000),
    default: '30000',
    doc: 'how long an early receipt is held before it is dead-lettered',
  }),
  maxHeldPerConversation: variable({
    env: 'TICKS_MAX_HELD_PER_CONVERSATION',
    schema: integer(1, 1_000_000),
    default: '1000',
    doc: 'most early receipts held for one conversation; more are dead-lettered with their reason',
  }),
  maxHeldPerUser: variable({
    env: 'TICKS_MAX_HELD_PER_USER',
    schema: integer(1, 1_000_000),
    default: '50',
    doc: 'most early receipts held for one user in one conversation; more are dead-lettered with their reason',
  }),
  hotStateTtlSeconds: variable({
    env: 'TICKS_HOT_TTL_SECONDS',
    schema: integer(1),
    default: String(24 * 3600),
    doc: 'expiry of the hot state in Redis',
  }),
  maxIndexedMessages: variable({
    env: 'TICKS_MAX_INDEXED_MESSAGES',
    schema: integer(1, 10_000_000),
    default: '2000',
    doc: 'messages a conversation keeps in the hot Redis index (trimmed, oldest first, once it holds a tenth more): receipts by id and receipt details cover these, an unread count beyond them shows this cap',
  }),
  auxDedupeTtlSeconds: variable({
    env: 'TICKS_AUX_DEDUPE_TTL_SECONDS',
    schema: integer(1),
    default: String(3600),
    doc: 'expiry of the badge dedupe marks in the auxiliary Redis',
  }),
  durableTtlSeconds: variable({
    env: 'TICKS_DURABLE_TTL_SECONDS',
    schema: integer(1),
    default: String(90 * 24 * 3600),
    doc: 'expiry of the Cassandra rows',
  }),
  watermarkFlushIntervalMs: variable({
    env: 'TICKS_WATERMARK_FLUSH_INTERVAL_MS',
    schema: integer(0),
    default: '60000',
    doc: 'how often the persister flushes its coalesced watermarks to Cassandra',
  }),
  maxDeliveredBatch: variable({
    env: 'TICKS_MAX_DELIVERED_BATCH',
    schema: integer(1, 100_000),
    default: '1000',
    doc: 'most message ids in one delivered receipt',
  }),
  maxStepRecords: variable({
    env: 'TICKS_MAX_STEP_RECORDS',
    schema: integer(1, 100_000),
    default: '1000',
    doc: "records of one input topic a partition's processing step takes at most",
  }),
  produceLingerMs: variable({
    env: 'TICKS_PRODUCE_LINGER_MS',
    schema: integer(0, 1_000),
    default: '5',
    doc: "how long the shared producer waits to gather more steps' outputs into one request",
  }),
  stateCacheBytes: variable({
    env: 'TICKS_STATE_CACHE_BYTES',
    schema: integer(1_000_000, 64_000_000_000),
    default: '134217728',
    doc: 'estimated bytes of conversation state a pipeline process keeps in memory (idle states are evicted above it and reloaded from Redis)',
  }),
  dedupeCacheEntries: variable({
    env: 'TICKS_DEDUPE_CACHE_ENTRIES',
    schema: integer(0, 100_000_000),
    default: '500000',
    doc: 'badge dedupe marks a pipeline process keeps in memory in front of the auxiliary Redis (least recently used evicted; 0: none, read the auxiliary Redis every time)',
  }),
  partitionLeaseMs: variable({
    env: 'TICKS_PARTITION_LEASE_MS',
    schema: integer(1_000, 300_000),
    // Just below the session timeout: the group reassigns a silent member's partitions only
    // after that anyway, and a shorter lease only runs out under stalls a loaded process
    // survives (every lease lost together every 10–60 s in the default bench at 6 s).
    default: '9000',
    doc: "how long a processor's lease on a partition's state lasts unrenewed (renewed every third of it); below TICKS_SESSION_TIMEOUT_MS",
  }),
  readyMaxFailingMs: variable({
    env: 'TICKS_READY_MAX_FAILING_MS',
    schema: integer(1_000, 3_600_000),
    default: '30000',
    doc: "how long a partition's steps may keep failing (nothing committed) before the pipeline reports not ready (/readyz 503)",
  }),
  faultKillAt: variable({
    env: 'TICKS_FAULT_KILL_AT',
    schema: faultPoint,
    default: '',
    doc: "test only (crash tests): '<produced|flushed>:<n>' makes the pipeline process SIGKILL itself when its n-th step delivery has produced its outputs (before the Redis write-behind) or has written it (before the offset commit); empty: never",
  }),
  metricsPort: variable({
    env: 'TICKS_METRICS_PORT',
    schema: integer(0, 65_535),
    default: '9464',
    doc: '/metrics and the health probes /livez, /readyz, /healthz (0: a free port)',
  }),
  /** Query API, push gateway and demo (api/, gateway/, processors/offline/). */
  api: {
    host: variable({
      env: 'TICKS_API_HOST',
      schema: nonEmpty,
      default: '127.0.0.1',
      doc: 'address the HTTP server listens on',
    }),
    port: variable({
      env: 'TICKS_API_PORT',
      schema: integer(0, 65_535),
      default: '8080',
      doc: 'port of the HTTP server',
    }),
    maxBodyBytes: variable({
      env: 'TICKS_API_MAX_BODY_BYTES',
      schema: integer(1024, 16 * 1024 * 1024),
      default: String(256 * 1024),
      doc: 'largest request body accepted (413 above it)',
    }),
    rateLimitPerMinute: variable({
      env: 'TICKS_API_RATE_LIMIT_PER_MINUTE',
      schema: integer(1, 100_000_000),
      default: '1200',
      doc: 'requests a user may make to /v1 per minute (429 with Retry-After above it)',
    }),
  },
  gateway: {
    maxBufferedBytes: variable({
      env: 'TICKS_GATEWAY_MAX_BUFFERED_BYTES',
      schema: integer(1024, 256 * 1024 * 1024),
      default: String(1024 * 1024),
      doc: 'bytes a socket may have queued and unsent before the gateway drops it as too slow',
    }),
    maxConnectionsPerUser: variable({
      env: 'TICKS_GATEWAY_MAX_CONNECTIONS_PER_USER',
      schema: integer(1, 100_000),
      default: '20',
      doc: 'open WebSockets one user may hold on one gateway; one more is closed with 4429',
    }),
  },
  auth: {
    secret: variable({
      env: 'TICKS_AUTH_SECRET',
      schema: z.string().min(32, 'must be at least 32 characters (HS256 secret)'),
      default: DEV_AUTH_SECRET,
      doc: 'HMAC (HS256) secret of the bearer tokens',
      shown: hiddenSecret,
    }),
    tokenTtlSeconds: variable({
      env: 'TICKS_AUTH_TOKEN_TTL_SECONDS',
      schema: integer(60, 7 * 24 * 3600),
      default: '86400',
      doc: 'lifetime of the tokens issued (at most TICKS_AUTH_MAX_TOKEN_LIFETIME_SECONDS)',
    }),
    maxTokenLifetimeSeconds: variable({
      env: 'TICKS_AUTH_MAX_TOKEN_LIFETIME_SECONDS',
      schema: integer(60, 7 * 24 * 3600),
      default: '86400',
      doc: 'longest lifetime (exp - iat) of a token the API and gateway accept',
    }),
    production: variable({
      env: 'TICKS_PRODUCTION',
      schema: flag,
      default: 'false',
      doc: 'true in production (so is NODE_ENV=production): the development secret, dev mode and the demo are refused',
    }),
    devMode: variable({
      env: 'TICKS_DEV_MODE',
      schema: flag,
      default: 'false',
      doc: "a developer's machine (npm start sets it): the API and gateway accept the development secret, on a loopback TICKS_API_HOST only, and may serve the demo",
    }),
  },
  offline: {
    groupId: variable({
      env: 'TICKS_OFFLINE_GROUP_ID',
      schema: nonEmpty,
      default: 'ticks-offline-batcher',
      doc: 'consumer group of the offline batcher (it has its own committed position)',
    }),
    ttlSeconds: variable({
      env: 'TICKS_OFFLINE_TTL_SECONDS',
      schema: integer(60),
      default: String(24 * 3600),
      doc: "how long a user's coalesced updates and online-device marks are kept",
    }),
    presenceLeaseMs: variable({
      env: 'TICKS_PRESENCE_LEASE_MS',
      schema: integer(1_000, 24 * 3_600_000),
      default: '60000',
      doc: 'how long a connected device counts as online without a renewal: the gateway renews every third of it; a gateway that dies leaves its devices online this long at most',
    }),
  },
  logLevel: variable({
    env: 'TICKS_LOG_LEVEL',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    doc: 'pino level',
  }),
} satisfies ConfigTable;

/** All of ticks' configuration, read once from environment variables (see CONFIG_TABLE). */
export type TicksConfig = ConfigOf<typeof CONFIG_TABLE>;
