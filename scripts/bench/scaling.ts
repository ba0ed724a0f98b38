import type { BenchResult } from './bench-run';
import type { TopicBytes } from './topic-bytes';

/**
 * Unit costs of ticks, from bench runs with 1, 2… pipeline processes in one group, and the sizing
 * that follows from them. Pure arithmetic: the figures come from `npm run bench:scaling` (the
 * runs), the formulas are here and in SCALING.md, and every assumption that is not measured
 * (hardware of a node, headroom, retention) is in DEPLOYMENT below, printed with the table.
 */

/** What one run with N processes measured in its drain. */
export interface ProcessRun {
  processes: number;
  eventsPerSecond: number;
  /** Cores of each pipeline process during the drain, and the input events each applied. */
  coresPerProcess: number[];
  eventsPerProcess: number[];
  /** Cores of all pipeline processes per 10k events/s. */
  pipelineCoresPer10k: number;
  redisMainCoresPer10k: number;
  machineBusyCores: number;
  load: { before: string; after: string };
  startedAt: string;
}

export interface UnitCosts {
  runs: ProcessRun[];
  /** Events/s one pipeline process drains (the 1-process run). */
  eventsPerSecondPerProcess: number;
  /** Cores per 10k events/s (drain of the 1-process run; persister and Cassandra over their run). */
  coresPer10k: {
    pipeline: number;
    redisMain: number;
    redisAux: number;
    kafka: number;
    persister: number;
    cassandra: number;
  };
  redisMainCommandsPerEvent: number;
  /** Share of traffic events that are messages (the bench's mix) and main-Redis bytes each. */
  messagesPerEvent: number;
  redisMainBytesPerMessage: number;
  /** Auxiliary Redis bytes per drain event (dedupe marks, 1 h expiry). */
  redisAuxBytesPerEvent: number;
  persister: {
    rowsPerEvent: number;
    rowsPerSecond: number;
    /** Cores per 10k rows/s. */
    persisterCoresPer10kRows: number;
    cassandraCoresPer10kRows: number;
  } | null;
  /** Bytes on a broker's disk per input event, per topic (one replica). */
  kafkaBytesPerEvent: Record<string, number> | null;
}

/** The input topics (what producers write; the pipeline reads them once). */
const INPUT_TOPICS = ['conversation_events', 'receipt_events', 'user_settings', 'presence'];

/** Kafka bytes per event into the input topics and into the topics ticks writes. */
export function kafkaSplit(u: UnitCosts): { input: number; output: number } {
  let input = 0;
  let output = 0;
  for (const [name, bytes] of Object.entries(u.kafkaBytesPerEvent ?? {}))
    if (INPUT_TOPICS.includes(name)) input += bytes;
    else output += bytes;
  return { input, output };
}

/**
 * What the sizing assumes and the bench does not measure: the hardware of one node of each kind,
 * the share of a unit's measured capacity it may use, replication and retention. Change them
 * here (or read the formulas in SCALING.md with your own).
 */
export const DEPLOYMENT = {
  /** Run each unit at ≤ 60 % of what it measured: room for spikes, rebalances, catch-up. */
  utilisation: 0.6,
  /** A pipeline process is one Node main thread: one core. */
  coresPerPipelineProcess: 1,
  /** Partitions per process at the target rate, so processes can be added without new partitions. */
  partitionsPerProcess: 2,
  /** Redis is single-threaded: a shard (master) is one core. */
  coresPerRedisShard: 1,
  /** Data per Redis master (the seeds: 500 GB on 20 nodes). */
  redisShardBytes: 25e9,
  /** Hot state expiry (TICKS_HOT_TTL_SECONDS) and the dedupe marks' (TICKS_AUX_DEDUPE_TTL_SECONDS). */
  hotTtlSeconds: 24 * 3600,
  auxTtlSeconds: 3600,
  /**
   * The seeds' mix: their 1.16 M events/s are status updates, a message to a group of 20 being
   * followed by ~19 delivered and ~19 read: one message per ~39 events (the bench's mix has far
   * more messages per event, its readers cover several messages with one read).
   */
  seedsMessagesPerEvent: 1 / 39,
  kafka: {
    replicationFactor: 3,
    /** TICKS_RETENTION_MS (7 days) for every topic (the compacted ones hold less). */
    retentionSeconds: 7 * 24 * 3600,
    coresPerBroker: 8,
    diskBytesPerBroker: 4e12,
    /** Sustained network per broker (10 GbE), in and out each. */
    networkBytesPerSecondPerBroker: 1.25e9,
  },
  cassandra: { replicationFactor: 3, coresPerNode: 8 },
} as const;

/** The unit costs from bench results (one per process count; the 1-process run is required). */
export function unitCosts(results: BenchResult[]): UnitCosts {
  const runs = results.map(processRun).sort((a, b) => a.processes - b.processes);
  const one = results.find((r) => r.config.processes === 1);
  if (!one) throw new Error('unit costs need a run with 1 pipeline process (--processes 1,…)');
  const drain = one.ticks;
  const per10k = (cores: number | undefined, perSecond: number) =>
    cores === undefined ? NaN : (cores / perSecond) * 10_000;
  const p = one.persister;
  // The drain's input events: the persister and the topics' bytes are measured before the
  // latency phase adds more.
  const drainEvents = one.workload.setupEvents + one.workload.trafficEvents;
  const rowsPerEvent = p ? p.rows / drainEvents : NaN;
  return {
    runs,
    eventsPerSecondPerProcess: drain.eventsPerSecond,
    coresPer10k: {
      pipeline: runs.find((r) => r.processes === 1)!.pipelineCoresPer10k,
      redisMain: per10k(drain.cpu.cores['redis-main'], drain.eventsPerSecond),
      redisAux: per10k(drain.cpu.cores['redis-aux'], drain.eventsPerSecond),
      kafka: per10k(drain.cpu.cores.kafka, drain.eventsPerSecond),
      // Over the persister's whole run: its work per event is spread over the drain and after.
      persister: p ? per10k(p.overall.persisterCores, p.overall.rowsPerSecond / rowsPerEvent) : NaN,
      cassandra: p ? per10k(p.overall.cassandraCores, p.overall.rowsPerSecond / rowsPerEvent) : NaN,
    },
    redisMainCommandsPerEvent: drain.redisCommands.perEvent,
    messagesPerEvent: one.workload.messages / one.workload.trafficEvents,
    redisMainBytesPerMessage: one.memory.redisBytesPerMessage,
    redisAuxBytesPerEvent: one.memory.redisAux.bytes / drainEvents,
    persister: p
      ? {
          rowsPerEvent,
          rowsPerSecond: p.overall.rowsPerSecond,
          persisterCoresPer10kRows: per10k(p.overall.persisterCores, p.overall.rowsPerSecond),
          cassandraCoresPer10kRows: per10k(p.overall.cassandraCores, p.overall.rowsPerSecond),
        }
      : null,
    kafkaBytesPerEvent: one.kafka ? bytesPerEvent(one.kafka) : null,
  };
}

function processRun(r: BenchResult): ProcessRun {
  const coresPerProcess = Object.entries(r.ticks.cpu.cores)
    .filter(([name]) => name.startsWith('ticks (node)'))
    .map(([, cores]) => cores);
  const sum = coresPerProcess.reduce((a, b) => a + b, 0);
  return {
    processes: r.config.processes,
    eventsPerSecond: r.ticks.eventsPerSecond,
    coresPerProcess,
    eventsPerProcess: r.ticks.eventsPerProcess,
    pipelineCoresPer10k: (sum / r.ticks.eventsPerSecond) * 10_000,
    redisMainCoresPer10k:
      ((r.ticks.cpu.cores['redis-main'] ?? NaN) / r.ticks.eventsPerSecond) * 1e4,
    machineBusyCores: r.ticks.cpu.machineBusyCores,
    load: { before: r.machine.loadBefore, after: r.machine.loadAfter },
    startedAt: r.startedAt,
  };
}

function bytesPerEvent(kafka: {
  events: number;
  topics: Record<string, TopicBytes>;
}): Record<string, number> {
  return Object.fromEntries(
    Object.entries(kafka.topics).map(([name, t]) => [name, t.bytes / kafka.events]),
  );
}

/** One line of the sizing: how many units of each kind a rate needs, and which bound set it. */
export interface Sizing {
  eventsPerSecond: number;
  pipelineProcesses: number;
  partitions: number;
  redisMainShards: { shards: number; byCpu: number; byMemory: number; bytes: number };
  /** Main-Redis memory and masters by memory if the events had the seeds' mix. */
  redisMainSeedsMix: { bytes: number; byMemory: number };
  redisAuxShards: { shards: number; byCpu: number; byMemory: number; bytes: number };
  kafka: {
    brokers: number;
    byCpu: number;
    byDisk: number;
    byNetwork: number;
    /** Bytes/s written by producers (one replica), stored (all replicas, retention). */
    inBytesPerSecond: number;
    diskBytes: number;
  };
  persisterProcesses: number;
  cassandraNodes: { nodes: number; byCpu: number; rowsPerSecond: number };
}

const up = (x: number) => (Number.isFinite(x) ? Math.max(1, Math.ceil(x - 1e-9)) : NaN);

/** The units a rate needs, by the formulas of SCALING.md. */
export function size(rate: number, u: UnitCosts, d = DEPLOYMENT): Sizing {
  const load = (coresPer10k: number) => (rate / 10_000) * coresPer10k;
  const pipelineProcesses = up(rate / (u.eventsPerSecondPerProcess * d.utilisation));
  const kafkaBytes = u.kafkaBytesPerEvent ?? {};
  const inBytesPerEvent = Object.values(kafkaBytes).reduce((a, b) => a + b, 0);
  const inBytesPerSecond = rate * inBytesPerEvent;
  const k = d.kafka;
  const diskBytes = inBytesPerSecond * k.replicationFactor * k.retentionSeconds;
  // Into a broker: what producers send plus replication (RF copies in all). Out of it: the
  // replicas' fetches (RF − 1) and each topic read once (inputs by the pipeline, the changelog by
  // the persister, receipt_updates by the gateways).
  const networkIn = inBytesPerSecond * k.replicationFactor;
  const networkOut = inBytesPerSecond * (k.replicationFactor - 1) + inBytesPerSecond;
  const kafkaByCpu = up(
    (load(u.coresPer10k.kafka) * k.replicationFactor) / (k.coresPerBroker * d.utilisation),
  );
  const kafkaByDisk = up(diskBytes / (k.diskBytesPerBroker * d.utilisation));
  const kafkaByNetwork = up(
    Math.max(networkIn, networkOut) / (k.networkBytesPerSecondPerBroker * d.utilisation),
  );
  const redisMainBytes = rate * u.messagesPerEvent * d.hotTtlSeconds * u.redisMainBytesPerMessage;
  const seedsMixBytes =
    rate * d.seedsMessagesPerEvent * d.hotTtlSeconds * u.redisMainBytesPerMessage;
  const redisAuxBytes = rate * d.auxTtlSeconds * u.redisAuxBytesPerEvent;
  const shards = (coresPer10k: number, bytes: number) => {
    const byCpu = up(load(coresPer10k) / (d.coresPerRedisShard * d.utilisation));
    const byMemory = up(bytes / d.redisShardBytes);
    return { shards: Math.max(byCpu, byMemory), byCpu, byMemory, bytes };
  };
  const rowsPerSecond = rate * (u.persister?.rowsPerEvent ?? NaN);
  const cassandraByCpu = up(
    ((rowsPerSecond / 10_000) *
      (u.persister?.cassandraCoresPer10kRows ?? NaN) *
      d.cassandra.replicationFactor) /
      (d.cassandra.coresPerNode * d.utilisation),
  );
  return {
    eventsPerSecond: rate,
    pipelineProcesses,
    partitions: roundUpTo(pipelineProcesses * d.partitionsPerProcess, k.replicationFactor),
    redisMainShards: shards(u.coresPer10k.redisMain, redisMainBytes),
    redisMainSeedsMix: {
      bytes: seedsMixBytes,
      byMemory: up(seedsMixBytes / d.redisShardBytes),
    },
    redisAuxShards: shards(u.coresPer10k.redisAux, redisAuxBytes),
    kafka: {
      brokers: Math.max(k.replicationFactor, kafkaByCpu, kafkaByDisk, kafkaByNetwork),
      byCpu: kafkaByCpu,
      byDisk: kafkaByDisk,
      byNetwork: kafkaByNetwork,
      inBytesPerSecond,
      diskBytes,
    },
    persisterProcesses: up(
      ((rowsPerSecond / 10_000) * (u.persister?.persisterCoresPer10kRows ?? NaN)) / d.utilisation,
    ),
    cassandraNodes: {
      nodes: Math.max(d.cassandra.replicationFactor, cassandraByCpu),
      byCpu: cassandraByCpu,
      rowsPerSecond,
    },
  };
}

function roundUpTo(n: number, multiple: number): number {
  return Number.isFinite(n) ? Math.ceil(n / multiple) * multiple : NaN;
}

/** One unit of each kind and the events/s at which it is full (at 100 %, no headroom). */
export interface Limit {
  unit: string;
  eventsPerSecond: number;
  bound: string;
}

/**
 * Events/s at which one unit of each kind is full, smallest first: the first is the limit a
 * growing load meets first, and the one that sets most of the fleet's size.
 */
export function limits(u: UnitCosts, d = DEPLOYMENT): Limit[] {
  const perCore = (coresPer10k: number, cores: number) => (10_000 / coresPer10k) * cores;
  const list: Limit[] = [
    {
      unit: 'pipeline process',
      eventsPerSecond: u.eventsPerSecondPerProcess,
      bound: 'its drain rate (one Node thread)',
    },
    {
      unit: 'main Redis shard, CPU',
      eventsPerSecond: perCore(u.coresPer10k.redisMain, d.coresPerRedisShard),
      bound: 'one core (Redis is single-threaded)',
    },
    {
      unit: 'main Redis shard, memory',
      eventsPerSecond:
        d.redisShardBytes / (u.messagesPerEvent * d.hotTtlSeconds * u.redisMainBytesPerMessage),
      bound: `${d.redisShardBytes / 1e9} GB of messages kept ${d.hotTtlSeconds / 3600} h`,
    },
    {
      unit: 'auxiliary Redis shard, CPU',
      eventsPerSecond: perCore(u.coresPer10k.redisAux, d.coresPerRedisShard),
      bound: 'one core',
    },
    {
      unit: 'Kafka broker, CPU',
      eventsPerSecond:
        perCore(u.coresPer10k.kafka, d.kafka.coresPerBroker) / d.kafka.replicationFactor,
      bound: `${d.kafka.coresPerBroker} cores, every record written ${d.kafka.replicationFactor}×`,
    },
    {
      unit: 'persister process',
      eventsPerSecond: perCore(u.coresPer10k.persister, 1),
      bound: 'one core',
    },
    {
      unit: 'Cassandra node, CPU',
      eventsPerSecond:
        perCore(u.coresPer10k.cassandra, d.cassandra.coresPerNode) / d.cassandra.replicationFactor,
      bound: `${d.cassandra.coresPerNode} cores, every row written ${d.cassandra.replicationFactor}×`,
    },
  ];
  return list
    .filter((l) => Number.isFinite(l.eventsPerSecond))
    .sort((a, b) => a.eventsPerSecond - b.eventsPerSecond);
}
