import { DEPLOYMENT, limits, size, unitCosts, type UnitCosts } from './scaling';
import { replaceMeasured } from './scaling-report';

/** Round unit costs, so that every count below can be worked out by hand. */
const COSTS: UnitCosts = {
  runs: [],
  eventsPerSecondPerProcess: 10_000,
  coresPer10k: {
    pipeline: 1,
    redisMain: 0.3,
    redisAux: 0.05,
    kafka: 0.4,
    persister: 0.5,
    cassandra: 2,
  },
  redisMainCommandsPerEvent: 5,
  messagesPerEvent: 0.25,
  redisMainBytesPerMessage: 200,
  redisAuxBytesPerEvent: 10,
  persister: {
    rowsPerEvent: 2,
    rowsPerSecond: 20_000,
    persisterCoresPer10kRows: 0.25,
    cassandraCoresPer10kRows: 1,
  },
  kafkaBytesPerEvent: { conversation_events: 40, receipt_events: 40, state_changes: 20 },
};

describe('sizing from unit costs', () => {
  const s = size(100_000, COSTS);

  it('runs each process at the utilisation target, two partitions each (a multiple of RF)', () => {
    expect(DEPLOYMENT.utilisation).toBe(0.6);
    // 100,000 / (10,000 × 0.6) = 16.7 → 17 processes; 34 partitions → 36 (multiple of 3).
    expect(s.pipelineProcesses).toBe(17);
    expect(s.partitions).toBe(36);
  });

  it('sizes main Redis by the larger of CPU and 24 h of messages in memory', () => {
    // CPU: 10 × 0.3 cores = 3 cores / 0.6 → 5 masters.
    expect(s.redisMainShards.byCpu).toBe(5);
    // Memory: 100,000 × 0.25 messages × 86,400 s × 200 B = 432 GB → 18 masters of 25 GB.
    expect(s.redisMainShards.bytes).toBe(432e9);
    expect(s.redisMainShards.byMemory).toBe(18);
    expect(s.redisMainShards.shards).toBe(18);
    // The seeds' mix, 1 message per 39 events: 100,000 / 39 × 86,400 × 200 B = 44.3 GB → 2.
    expect(s.redisMainSeedsMix.bytes).toBeCloseTo(44.3e9, -8);
    expect(s.redisMainSeedsMix.byMemory).toBe(2);
  });

  it('sizes Kafka by disk, network and CPU, never below the replication factor', () => {
    // 100 B per event → 10 MB/s; × 3 replicas × 7 days = 18.1 TB; / (4 TB × 0.6) → 8 brokers.
    expect(s.kafka.inBytesPerSecond).toBe(10e6);
    expect(s.kafka.diskBytes).toBeCloseTo(10e6 * 3 * 7 * 86_400);
    expect(s.kafka.byDisk).toBe(8);
    expect(s.kafka.brokers).toBe(8);
    expect(size(1_000, COSTS).kafka.brokers).toBe(3);
  });

  it('sizes the persister and Cassandra by rows, each row written on RF nodes', () => {
    // 200,000 rows/s: persister 20 × 0.25 = 5 cores / 0.6 → 9; Cassandra 20 × 1 × 3 = 60 cores
    // / (8 × 0.6) → 13 nodes.
    expect(s.cassandraNodes.rowsPerSecond).toBe(200_000);
    expect(s.persisterProcesses).toBe(9);
    expect(s.cassandraNodes.nodes).toBe(13);
  });

  it('names the unit that is full first', () => {
    const list = limits(COSTS);
    const rates = list.map((l) => l.eventsPerSecond);
    expect(rates).toEqual([...rates].sort((a, b) => a - b));
    // 25 GB / (0.25 × 86,400 × 200 B) = 5,787 events/s: memory before the 10,000 of a process.
    expect(list[0]!.unit).toBe('main Redis shard, memory');
    expect(list[0]!.eventsPerSecond).toBeCloseTo(5_787, 0);
    expect(list[1]!.unit).toBe('pipeline process');
  });

  it('needs a 1-process run for the per-process unit cost', () => {
    expect(() => unitCosts([])).toThrow(/run with 1 pipeline process/);
  });
});

describe('the measured part of SCALING.md', () => {
  it('is replaced between its markers and the rest is kept', () => {
    const doc = [
      'intro',
      '<!-- scaling:measured:begin -->',
      'old figures',
      '<!-- scaling:measured:end -->',
      'formulas',
    ].join('\n');
    const out = replaceMeasured(doc, 'new figures');
    expect(out).toContain('intro');
    expect(out).toContain('new figures');
    expect(out).not.toContain('old figures');
    expect(out).toContain('formulas');
    expect(replaceMeasured(out, 'newer')).not.toContain('new figures');
    expect(() => replaceMeasured('no markers', 'x')).toThrow(/markers/);
  });
});
