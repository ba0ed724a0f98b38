import { Client, ExecutionProfile, types } from 'cassandra-driver';
import type { CassandraConsistency, TicksConfig } from '../../config/config';

/** Cassandra could not be reached; a retry helps once it is up. */
export class CassandraUnavailableError extends Error {
  override readonly name = 'CassandraUnavailableError';
  readonly retriable = true;
}

/** Execution profiles: every statement names one, so consistency is configured in one place. */
export const PROFILE = { write: 'ticks-write', read: 'ticks-read' } as const;

export function consistencyOf(level: CassandraConsistency): types.consistencies {
  const byName: Record<CassandraConsistency, types.consistencies> = {
    ONE: types.consistencies.one,
    TWO: types.consistencies.two,
    THREE: types.consistencies.three,
    QUORUM: types.consistencies.quorum,
    ALL: types.consistencies.all,
    LOCAL_QUORUM: types.consistencies.localQuorum,
    EACH_QUORUM: types.consistencies.eachQuorum,
    LOCAL_ONE: types.consistencies.localOne,
  };
  return byName[level];
}

export interface ConnectCassandraOptions {
  /** Bind the session to the configured keyspace (false for the migrator, which creates it). */
  useKeyspace?: boolean;
}

/**
 * Connects to the ring. The driver's default load balancing is token-aware over
 * DC-aware round robin in `datacenter`, so prepared statements go straight to a replica of
 * their partition. Consistency comes from the two execution profiles (TICKS_CASSANDRA_*_CONSISTENCY);
 * conditional writes use LOCAL_SERIAL.
 */
export async function connectCassandra(
  config: Pick<TicksConfig, 'cassandra'>,
  options: ConnectCassandraOptions = {},
): Promise<Client> {
  const c = config.cassandra;
  const firstPort = Number(c.contactPoints[0]!.split(':').pop());
  const client = new Client({
    contactPoints: c.contactPoints,
    localDataCenter: c.datacenter,
    keyspace: options.useKeyspace === false ? undefined : c.keyspace,
    // Nodes found through the ring listen where the contact points do.
    protocolOptions: { port: firstPort },
    socketOptions: { connectTimeout: c.connectTimeoutMs, readTimeout: 12_000 },
    queryOptions: { prepare: true, isIdempotent: true },
    profiles: [
      new ExecutionProfile(PROFILE.write, {
        consistency: consistencyOf(c.writeConsistency),
        serialConsistency: types.consistencies.localSerial,
      }),
      new ExecutionProfile(PROFILE.read, { consistency: consistencyOf(c.readConsistency) }),
    ],
  });
  try {
    await client.connect();
  } catch (err) {
    await client.shutdown().catch(() => undefined);
    const detail = (err as Error).message.split('\n')[0]!;
    const missingKeyspace = /keyspace/i.test(detail) && /does not exist/i.test(detail);
    throw new CassandraUnavailableError(
      missingKeyspace
        ? `Cassandra keyspace ${c.keyspace} does not exist at ${c.contactPoints.join(',')} — run \`npm run cassandra:migrate\` (or check TICKS_CASSANDRA_KEYSPACE)`
        : `Cassandra not reachable at ${c.contactPoints.join(',')} (datacenter ${c.datacenter}) — run \`npm run stack:up\` (or check TICKS_CASSANDRA_CONTACT_POINTS and TICKS_CASSANDRA_DATACENTER): ${detail}`,
      { cause: err },
    );
  }
  return client;
}

/** A bigint/counter column as a JavaScript number (ticks keeps seqs below 2^53). */
export function toNumber(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.getTime();
  if (types.Long.isLong(value)) return (value as types.Long).toNumber();
  return Number(value);
}
