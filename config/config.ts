import {
  CONFIG_TABLE,
  DEV_AUTH_SECRET,
  type CassandraConsistency,
  type TicksConfig,
} from './config-table';
import { envNames, listVariables, readTable } from './config-variable';

export {
  CASSANDRA_CONSISTENCIES,
  CONFIG_TABLE,
  DEV_AUTH_SECRET,
  type CassandraConsistency,
  type TicksConfig,
} from './config-table';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Where one Redis is: a single server (its URL), or a Redis Cluster (seed nodes). */
export type RedisTarget = TicksConfig['redis']['main'];

/** Every variable, flat: its environment name, default, meaning and path in TicksConfig. */
export const CONFIG_VARIABLES: ReadonlyArray<{
  name: string;
  default: string;
  doc: string;
  path: string;
}> = listVariables(CONFIG_TABLE).map(({ path, variable }) => ({
  name: variable.env,
  default: variable.default,
  doc: variable.doc,
  path,
}));

/** Reads and validates the configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): TicksConfig {
  const problems: string[] = [];
  const config = readTable(CONFIG_TABLE, env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  // The deployment's own production flag counts too, so that forgetting ours is not enough to
  // run production on the development secret.
  if (env.NODE_ENV === 'production') config.auth.production = true;
  const crossProblems = crossFieldProblems(config);
  if (crossProblems.length > 0) throw new ConfigError(crossProblems);
  return config;
}

/** The variables' environment names, laid out like TicksConfig, for the messages below. */
const ENV = envNames(CONFIG_TABLE);

/**
 * Why the API and gateway must not start with this configuration's auth, or undefined. The
 * development secret is published: tokens signed with it are anyone's. It is accepted only when a
 * developer said so (TICKS_DEV_MODE=true; `npm start` does) and the server listens on loopback,
 * where nobody else can reach it.
 */
export function devSecretProblem(c: TicksConfig): string | undefined {
  if (c.auth.secret !== DEV_AUTH_SECRET) return undefined;
  if (!c.auth.devMode)
    return `${ENV.auth.secret} is not set: the published development secret would sign and accept tokens anyone can mint — set ${ENV.auth.secret} (at least 32 random characters), or ${ENV.auth.devMode}=true for local development on loopback`;
  if (!isLoopback(c.api.host))
    return `${ENV.auth.secret} is not set and ${ENV.api.host}=${c.api.host} is reachable beyond this machine: set ${ENV.auth.secret} (at least 32 random characters) — the development secret is accepted on a loopback host only`;
  return undefined;
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

function crossFieldProblems(c: TicksConfig): string[] {
  const problems: string[] = [];
  if (c.redis.main.url === c.redis.aux.url)
    problems.push(
      `${ENV.redis.aux.url} must differ from ${ENV.redis.main.url}: the sender dedupe runs on its own Redis`,
    );
  for (const role of ['main', 'aux'] as const)
    if (!c.redis[role].cluster && c.redis[role].seeds.length > 0)
      problems.push(
        `${ENV.redis[role].seeds} names seed nodes but ${ENV.redis[role].cluster} is not true: set it, or empty the seeds for a single server`,
      );
  if (c.auxDedupeTtlSeconds >= c.hotStateTtlSeconds)
    problems.push(
      `${ENV.auxDedupeTtlSeconds} must be below ${ENV.hotStateTtlSeconds}: a dedupe mark saying the badge has a source, if it outlives the badge it guards, would hide a new unread sender`,
    );
  if (c.windowGraceMs >= c.windowMs)
    problems.push(`${ENV.windowGraceMs} must be below ${ENV.windowMs}`);
  if (c.punctuateIntervalMs > c.windowMs / 4)
    problems.push(
      `${ENV.punctuateIntervalMs} must be at most a quarter of ${ENV.windowMs}, or windows close late`,
    );
  if (c.hotStateTtlSeconds >= c.durableTtlSeconds)
    problems.push(`${ENV.hotStateTtlSeconds} must be below ${ENV.durableTtlSeconds}`);
  if (c.heldReceiptWaitMs >= c.hotStateTtlSeconds * 1000)
    problems.push(
      `${ENV.heldReceiptWaitMs} must be below ${ENV.hotStateTtlSeconds} (held receipts live in Redis)`,
    );
  if (c.partitionLeaseMs >= c.kafka.sessionTimeoutMs)
    problems.push(
      `${ENV.partitionLeaseMs} must be below ${ENV.kafka.sessionTimeoutMs}: a processor that stalls must lose its partition leases before the group gives its partitions to another, or the new owner waits for the stalled one's lease`,
    );
  if (c.auth.production && c.faultKillAt)
    problems.push(
      `${ENV.faultKillAt} must be empty in production: it makes the pipeline kill itself (crash tests only)`,
    );
  if (c.auth.production && c.auth.secret === DEV_AUTH_SECRET)
    problems.push(
      `${ENV.auth.secret} must be set in production (${ENV.auth.production}=true or NODE_ENV=production): the development secret signs tokens anyone can mint`,
    );
  if (c.auth.production && c.auth.devMode)
    problems.push(
      `${ENV.auth.devMode}=true cannot be set in production (${ENV.auth.production}=true or NODE_ENV=production)`,
    );
  if (c.auth.tokenTtlSeconds > c.auth.maxTokenLifetimeSeconds)
    problems.push(
      `${ENV.auth.tokenTtlSeconds} must be at most ${ENV.auth.maxTokenLifetimeSeconds}: the API would refuse the tokens issued`,
    );
  if (c.offline.groupId === c.kafka.groupId)
    problems.push(
      `${ENV.offline.groupId} must differ from ${ENV.kafka.groupId}: the offline batcher has its own committed position`,
    );
  problems.push(...cassandraProblems(c));
  if (c.persister.groupId === c.kafka.groupId)
    problems.push(
      `${ENV.persister.groupId} must differ from ${ENV.kafka.groupId}: the persister keeps its own position in Kafka`,
    );
  if (c.persister.metricsPort !== 0 && c.persister.metricsPort === c.metricsPort)
    problems.push(
      `${ENV.persister.metricsPort} must differ from ${ENV.metricsPort} (0 picks a free port for either)`,
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
  const names = ENV.cassandra;
  for (const [name, level] of [
    [names.writeConsistency, writeConsistency],
    [names.readConsistency, readConsistency],
  ] as const) {
    if (replicasNeeded(level, replication.factor) > replication.factor)
      problems.push(
        `${name}=${level} needs more replicas than ${names.replication.factor}=${replication.factor}: every request would fail`,
      );
    if (level === 'EACH_QUORUM' && replication.strategy !== 'NetworkTopologyStrategy')
      problems.push(
        `${name}=EACH_QUORUM needs ${names.replication.strategy}=NetworkTopologyStrategy`,
      );
  }
  if (readConsistency === 'EACH_QUORUM')
    problems.push(
      `${names.readConsistency}=EACH_QUORUM is for writes; read with LOCAL_QUORUM or QUORUM`,
    );
  return problems;
}
