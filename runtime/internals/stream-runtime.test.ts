import pino from 'pino';
import type { StateChange } from '../../schemas/types';
import type {
  Decoded,
  PartitionStateStore,
  Processor,
  ProcessorContext,
  Punctuator,
  RecordCodec,
} from '../api';
import type { CommitPosition, InboundBatch, OutboundRecord } from '../kafka/types';
import { PipelineMetrics } from '../metrics';
import { topicNames, type TopicRole } from '../topics';
import type { PartitionLeaseStore } from './partition-ownership';
import type {
  StreamConsumer,
  StreamConsumerOptions,
  StreamKafka,
  StreamProducer,
} from './stream-kafka';
import { StreamRuntime, type DeliveryStage } from './stream-runtime';

const topics = topicNames({ topics: { prefix: '' } } as Parameters<typeof topicNames>[0]);
const CONV = topics.conversationEvents;
const RCPT = topics.receiptEvents;

/** What happened at the Kafka boundary, in order: the runtime's contract is about this order. */
type Event =
  | { type: 'sent'; records: OutboundRecord[] }
  | { type: 'commit'; positions: CommitPosition[] }
  | { type: 'seek'; position: CommitPosition }
  | { type: 'release'; partition: number }
  /** onDeliveryStage was told; `hooked`: the after-send hooks that had run by then. */
  | { type: 'stage'; stage: DeliveryStage; partition: number; hooked: number };

/** A gate a fake holds its callers at until the test opens it. */
class Gate {
  private opened: Promise<void> | undefined;
  private open_: (() => void) | undefined;
  close(): void {
    this.opened = new Promise((r) => (this.open_ = r));
  }
  open(): void {
    this.open_?.();
    this.opened = undefined;
  }
  async pass(): Promise<void> {
    await this.opened;
  }
}

class FakeProducer implements StreamProducer {
  readonly gate = new Gate();
  /** Errors the next sends fail with, in order. */
  readonly failures: Error[] = [];
  closed = false;
  constructor(private readonly events: Event[]) {}
  async send(records: OutboundRecord[]): Promise<void> {
    await this.gate.pass();
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.events.push({ type: 'sent', records });
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

class FakeConsumer implements StreamConsumer {
  started = false;
  constructor(
    readonly options: StreamConsumerOptions,
    private readonly events: Event[],
  ) {}
  async start(): Promise<void> {
    this.started = true;
  }
  async stop(): Promise<void> {
    this.started = false;
  }
  async commit(positions: CommitPosition[]): Promise<void> {
    this.events.push({ type: 'commit', positions: positions.map((p) => ({ ...p })) });
  }
  seek(position: CommitPosition): void {
    this.events.push({ type: 'seek', position });
  }
}

/**
 * Leases in memory on the (fake) clock, valid like PartitionLeases' from the send time for the
 * ttl less a margin. `elsewhere`: partitions another process holds (acquiring fails, a renewal
 * finds them taken); `expire` ends a lease behind the runtime's back.
 */
class FakeLeases implements PartitionLeaseStore {
  readonly ttlMs = 1_000;
  readonly marginMs = 100;
  readonly elsewhere = new Set<number>();
  readonly acquires: Array<{ partition: number; at: number }> = [];
  readonly renewals: number[] = [];
  private readonly validUntil = new Map<number, number>();
  constructor(private readonly events: Event[]) {}
  async acquire(partition: number): Promise<boolean> {
    this.acquires.push({ partition, at: Date.now() });
    if (this.elsewhere.has(partition)) {
      this.validUntil.delete(partition);
      return false;
    }
    this.validUntil.set(partition, Date.now() + this.ttlMs - this.marginMs);
    return true;
  }
  async renew(): Promise<number[]> {
    this.renewals.push(Date.now());
    const lost: number[] = [];
    for (const partition of [...this.validUntil.keys()]) {
      if (this.elsewhere.has(partition)) {
        this.validUntil.delete(partition);
        lost.push(partition);
      } else this.validUntil.set(partition, Date.now() + this.ttlMs - this.marginMs);
    }
    return lost;
  }
  async release(partition: number): Promise<void> {
    this.validUntil.delete(partition);
    this.events.push({ type: 'release', partition });
  }
  holds(partition: number, now = Date.now()): boolean {
    return (this.validUntil.get(partition) ?? Number.NEGATIVE_INFINITY) > now;
  }
  expire(partition: number): void {
    this.validUntil.delete(partition);
  }
}

class FakeKafka implements StreamKafka {
  readonly events: Event[] = [];
  readonly producerInstance = new FakeProducer(this.events);
  consumer: FakeConsumer | undefined;
  async producer(): Promise<StreamProducer> {
    return this.producerInstance;
  }
  groupConsumer(options: StreamConsumerOptions): StreamConsumer {
    this.consumer = new FakeConsumer(options, this.events);
    return this.consumer;
  }
}

/** Values travel as JSON tagged with their role: enough to route and dead-letter like Avro. */
const codec: RecordCodec = {
  decodeCached: (value) =>
    JSON.parse(value.toString('utf8')) as { role: TopicRole; value: unknown },
  decode: async (value) =>
    JSON.parse(value.toString('utf8')) as { role: TopicRole; value: unknown },
  encodeNow: (role, value) => Buffer.from(JSON.stringify({ role, value })),
  encode: async (role, value) => Buffer.from(JSON.stringify({ role, value })),
};

const encoded = (role: TopicRole, value: unknown) => Buffer.from(JSON.stringify({ role, value }));

interface Processed {
  partition: number;
  offset: number;
  at: number;
}

/**
 * Echoes each conversation event to receipt_updates (keyed by its offset) and logs it to the
 * changelog; its after-send hook notes the offsets in `hooked` (a state flush would run there).
 * `gate` holds a step mid-processing; `failures` fail the next steps.
 */
class EchoProcessor implements Processor<{ n: number }> {
  readonly name = 'echo';
  readonly source = 'conversationEvents' as const;
  readonly processed: Processed[] = [];
  readonly hooked: Array<{ partition: number; offset: number }> = [];
  /** Offsets whose second after-send hook ran (registered after the first). */
  readonly lateHooked: Array<{ partition: number; offset: number }> = [];
  /** Offsets whose step's outputs Kafka acknowledged (afterAcknowledged). */
  readonly acknowledged: Array<{ partition: number; offset: number }> = [];
  /** Asks the context whether its lease is held right after the gate (before any output). */
  checkLease = false;
  /** Holds the after-send hooks (once started) until the test opens it. */
  readonly hookGate = new Gate();
  /** First offsets of the steps whose before-send hook was called, in call order. */
  readonly beforeSent: number[] = [];
  /** Holds the before-send hooks until the test opens it; `beforeFailures` fail the next ones. */
  readonly beforeGate = new Gate();
  readonly beforeFailures: unknown[] = [];
  readonly attempts: number[] = [];
  readonly failures: unknown[] = [];
  readonly gate = new Gate();
  /** Leaves work to the step (waitFor) that ends at workGate with a `late-<first offset>` output. */
  deferWork = false;
  readonly workGate = new Gate();
  readonly workFailures: unknown[] = [];
  /** Releases the step's outputs (ProcessorContext.release) once its hooks are registered. */
  releaseEarly = false;

  async process(records: Decoded<{ n: number }>[], ctx: ProcessorContext): Promise<void> {
    this.attempts.push(Date.now());
    await this.gate.pass();
    if (this.checkLease) ctx.assertLeaseHeld();
    const failure = this.failures.shift();
    if (failure) throw failure;
    for (const { record, value } of records) {
      this.processed.push({
        partition: ctx.partition,
        offset: Number(record.offset),
        at: Date.now(),
      });
      ctx.send('receiptUpdates', `k${record.offset}`, value);
      ctx.logChange({
        conversation_id: `c${value.n}`,
        source_offset: Number(record.offset),
        change: {},
      } as unknown as StateChange);
    }
    if (this.deferWork) {
      const first = records[0]!.record.offset;
      ctx.waitFor(
        this.workGate.pass().then(() => {
          const failure = this.workFailures.shift();
          if (failure) throw failure;
          ctx.send('receiptUpdates', `late-${first}`, { late: true });
        }),
      );
    }
    const { partition } = ctx;
    const offsets = records.map(({ record }) => Number(record.offset));
    ctx.beforeSend(async () => {
      this.beforeSent.push(offsets[0]!);
      await this.beforeGate.pass();
      const failure = this.beforeFailures.shift();
      if (failure) throw failure;
    });
    ctx.afterAcknowledged(() => {
      for (const offset of offsets) this.acknowledged.push({ partition, offset });
    });
    ctx.afterSend(async () => {
      for (const offset of offsets) this.hooked.push({ partition, offset });
      await this.hookGate.pass();
    });
    ctx.afterSend(async () => {
      for (const offset of offsets) this.lateHooked.push({ partition, offset });
    });
    if (this.releaseEarly) ctx.release();
  }
}

/** Receipts are not used here, but the runtime reads both co-partitioned topics. */
class IdleProcessor implements Processor<unknown> {
  readonly name = 'idle';
  readonly source = 'receiptEvents' as const;
  async process(): Promise<void> {}
}

class RecordingPunctuator implements Punctuator {
  readonly name = 'recording';
  readonly intervalMs = 1_000;
  readonly runs: Array<{ partition: number; partitions: number[]; at: number }> = [];
  async punctuate(partitions: number[], ctx: ProcessorContext): Promise<void> {
    this.runs.push({ partition: ctx.partition, partitions, at: Date.now() });
    ctx.send('receiptUpdates', `tick-${ctx.partition}`, { tick: true });
  }
}

/** Lets every pending promise chain run (setImmediate is not faked). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

function setUp(
  options: {
    punctuators?: Punctuator[];
    backoff?: object;
    /** Fence the partitions with FakeLeases (ttl 1 s, renewed every ~300 ms). */
    leases?: boolean;
  } = {},
) {
  /** The partitions whose state the runtime reset, in order (a state store that records). */
  const resets: number[] = [];
  /** What each reset was told to wait for, in order. */
  const resetSettled: Array<Promise<unknown>> = [];
  const stateStore: PartitionStateStore = {
    name: 'recording',
    resetPartition: (partition, settled) => {
      resets.push(partition);
      resetSettled.push(settled);
    },
  };
  const kafka = new FakeKafka();
  const leases = options.leases ? new FakeLeases(kafka.events) : undefined;
  const echo = new EchoProcessor();
  const metrics = new PipelineMetrics({ defaultMetrics: false });
  const runtime = new StreamRuntime({
    kafka,
    codec,
    topics,
    groupId: 'g',
    sessionTimeoutMs: 10_000,
    processors: [echo, new IdleProcessor()] as Processor<unknown>[],
    punctuators: options.punctuators ?? [],
    metrics,
    logger: pino({ level: 'silent' }),
    backoff: { initialMs: 100, maxMs: 1_000, jitter: 0, ...options.backoff },
    leases,
    stateStores: [stateStore],
    onDeliveryStage: (stage, partition) =>
      kafka.events.push({ type: 'stage', stage, partition, hooked: echo.hooked.length }),
  });
  const consumer = () => kafka.consumer!;
  const assign = (partitions: number[]) =>
    consumer().options.onAssignment({ [CONV]: partitions, [RCPT]: partitions });
  const heartbeat = () => consumer().options.onHeartbeat?.();
  /** Hands over a batch of conversation events at these offsets (the partition's end after them). */
  const fetch = (partition: number, offsets: number[], extra: Partial<InboundBatch> = {}) =>
    consumer().options.onBatch({
      topic: CONV,
      partition,
      highWatermark: String(offsets[offsets.length - 1]! + 1),
      records: offsets.map((offset) => ({
        topic: CONV,
        partition,
        offset: String(offset),
        key: Buffer.from(`c${offset}`),
        value: encoded('conversationEvents', { n: offset }),
        timestamp: 1_000 + offset,
      })),
      heartbeat: async () => undefined,
      isStale: () => false,
      commit: async () => undefined,
      ...extra,
    });
  const sent = () => kafka.events.flatMap((e) => (e.type === 'sent' ? e.records : []));
  /** The keys of the receipt updates produced (the changelog's have none). */
  const updateKeys = () => sent().flatMap((r) => (r.key ? [String(r.key)] : []));
  const commits = () => kafka.events.flatMap((e) => (e.type === 'commit' ? e.positions : []));
  const committedOffset = (partition: number): number | undefined => {
    const mine = commits().filter((p) => p.topic === CONV && p.partition === partition);
    return mine.length === 0 ? undefined : Number(mine[mine.length - 1]!.nextOffset);
  };
  const released = (partition: number) =>
    kafka.events.findIndex((e) => e.type === 'release' && e.partition === partition);
  return {
    resets,
    resetSettled,
    kafka,
    echo,
    metrics,
    runtime,
    consumer,
    assign,
    heartbeat,
    fetch,
    sent,
    updateKeys,
    commits,
    committedOffset,
    released,
    /** The FakeLeases of a setUp({ leases: true }). */
    get leases(): FakeLeases {
      if (!leases) throw new Error('setUp({ leases: true }) to fence with leases');
      return leases;
    },
  };
}

const offsetsOfHooks = (hooked: Array<{ offset: number }>) => hooked.map((h) => h.offset);

/** Partition 0 assigned; its echo steps release their outputs and leave work held at workGate. */
async function setUpReleasing() {
  const t = setUp();
  await t.runtime.start();
  t.assign([0]);
  t.echo.deferWork = true;
  t.echo.releaseEarly = true;
  t.echo.workGate.close();
  return t;
}

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
});
afterEach(() => {
  jest.useRealTimers();
});

describe('StreamRuntime', () => {
  it('sends a step’s outputs through the producer and commits its offsets only after them, in order', async () => {
    const t = setUp();
    await t.runtime.start();
    t.assign([0]);
    t.kafka.producerInstance.gate.close();

    await t.fetch(0, [0, 1, 2]);
    await settle();
    await t.fetch(0, [3, 4]);
    await jest.advanceTimersByTimeAsync(500);
    // Both steps are processed, but nothing is acknowledged yet: nothing may be committed.
    expect(t.echo.processed.map((p) => p.offset)).toEqual([0, 1, 2, 3, 4]);
    expect(t.commits()).toEqual([]);

    t.kafka.producerInstance.gate.open();
    await jest.advanceTimersByTimeAsync(500);
    expect(t.committedOffset(0)).toBe(5);

    // Each commit comes after every output of the records it covers.
    const acknowledged = new Set<string>();
    for (const e of t.kafka.events) {
      if (e.type === 'sent') for (const r of e.records) if (r.key) acknowledged.add(String(r.key));
      if (e.type === 'commit')
        for (const p of e.positions)
          for (let o = 0; o < Number(p.nextOffset); o++) expect(acknowledged).toContain(`k${o}`);
    }
    // Commits move forward only.
    const offsets = t.commits().map((p) => Number(p.nextOffset));
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));

    // The step's changelog goes first, to the input's partition of state_changes.
    const first = t.sent().slice(0, 4);
    expect(
      first.map((r) => [r.topic, r.partition ?? null, r.key === null ? null : String(r.key)]),
    ).toEqual([
      [topics.stateChanges, 0, null],
      [topics.receiptUpdates, null, 'k0'],
      [topics.receiptUpdates, null, 'k1'],
      [topics.receiptUpdates, null, 'k2'],
    ]);
    await t.runtime.stop();
    expect(t.kafka.producerInstance.closed).toBe(true);
  });

  it('dead-letters a record it cannot decode with its original key, bytes, source and reason', async () => {
    const t = setUp();
    await t.runtime.start();
    t.assign([0]);
    await t.consumer().options.onBatch({
      topic: CONV,
      partition: 0,
      highWatermark: '8',
      records: [
        {
          topic: CONV,
          partition: 0,
          offset: '7',
          key: Buffer.from('c7'),
          value: null,
          timestamp: 1,
        },
      ],
      heartbeat: async () => undefined,
      isStale: () => false,
      commit: async () => undefined,
    });
    await jest.advanceTimersByTimeAsync(200);
    const [dead] = t.sent().filter((r) => r.topic === topics.deadLetters);
    expect(dead!.key).toEqual(Buffer.from('c7'));
    expect(dead!.headers).toEqual({ 'ticks.reason': 'UNDECODABLE', 'ticks.source': `${CONV}/0/7` });
    expect(JSON.parse(dead!.value!.toString())).toMatchObject({
      role: 'deadLetters',
      value: { source_topic: CONV, source_partition: 0, source_offset: 7, reason: 'UNDECODABLE' },
    });
    expect(t.committedOffset(0)).toBe(8);
    expect(await t.metrics.total(t.metrics.deadLetters, { reason: 'UNDECODABLE' })).toBe(1);
    await t.runtime.stop();
  });

  it('backs off a failing step exponentially up to the cap, and starts over after a success', async () => {
    const t = setUp();
    await t.runtime.start();
    t.assign([0]);
    const redisDown = () => Object.assign(new Error('redis down'), { retriable: true });
    t.echo.failures.push(redisDown(), redisDown(), redisDown(), redisDown(), redisDown());

    await t.fetch(0, [0]);
    // A batch arriving meanwhile does not cut a back-off short.
    await jest.advanceTimersByTimeAsync(50);
    await t.fetch(0, [1]);
    await jest.advanceTimersByTimeAsync(5_000);
    const gaps = (attempts: number[]) => attempts.slice(1).map((at, i) => at - attempts[i]!);
    // 100, 200, 400, 800, then capped at 1 000; the sixth attempt succeeds.
    expect(gaps(t.echo.attempts)).toEqual([100, 200, 400, 800, 1_000]);
    expect(t.echo.processed.map((p) => p.offset)).toEqual([0, 1]);
    expect(t.committedOffset(0)).toBe(2);
    expect(
      await t.metrics.total(t.metrics.stepRetries, { partition: '0', retriable: 'true' }),
    ).toBe(5);

    // After the success, the next failure waits the initial back-off again.
    t.echo.attempts.length = 0;
    t.echo.failures.push(redisDown());
    await t.fetch(0, [2]);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(gaps(t.echo.attempts)).toEqual([100]);
    expect(t.committedOffset(0)).toBe(3);
    await t.runtime.stop();
  });

  it('retries an error that retrying cannot fix at the longest back-off, without stopping', async () => {
    const t = setUp();
    await t.runtime.start();
    t.assign([0]);
    t.echo.failures.push(new TypeError('x is undefined'), new TypeError('x is undefined'));
    await t.fetch(0, [0]);
    await jest.advanceTimersByTimeAsync(3_000);
    expect(t.echo.attempts.slice(1).map((at, i) => at - t.echo.attempts[i]!)).toEqual([
      1_000, 1_000,
    ]);
    expect(await t.metrics.total(t.metrics.stepRetries, { retriable: 'false' })).toBe(2);
    expect(t.committedOffset(0)).toBe(1);
    await t.runtime.stop();
  });

  it('stops processing, committing and punctuating a partition the group took away', async () => {
    const punctuator = new RecordingPunctuator();
    const t = setUp({ punctuators: [punctuator] });
    await t.runtime.start();
    t.assign([0, 1]);
    await jest.advanceTimersByTimeAsync(1_000);
    await settle();
    expect(new Set(punctuator.runs.map((r) => r.partition))).toEqual(new Set([0, 1]));
    expect(
      punctuator.runs.every((r) => r.partitions.length === 1 && r.partitions[0] === r.partition),
    ).toBe(true);

    // Partition 1: steps 0-1 and 2-3 wait for the producer, step 4-5 is mid-processing and
    // 6-7 is buffered behind it.
    t.kafka.producerInstance.gate.close();
    await t.fetch(1, [0, 1]);
    await settle();
    await t.fetch(1, [2, 3]);
    await settle();
    t.echo.gate.close();
    await t.fetch(1, [4, 5]);
    await settle();
    await t.fetch(1, [6, 7]);
    await settle();

    t.assign([0]);
    const lostAt = Date.now();
    t.echo.gate.open();
    t.kafka.producerInstance.gate.open();
    await t.fetch(1, [8, 9]); // a fetch that was under way: not ours any more
    await t.fetch(0, [0, 1]);
    await jest.advanceTimersByTimeAsync(3_000);

    expect(t.echo.processed.filter((p) => p.partition === 1).map((p) => p.offset)).toEqual([
      0, 1, 2, 3, 4, 5,
    ]);
    expect(t.commits().filter((p) => p.partition === 1)).toEqual([]);
    expect(punctuator.runs.filter((r) => r.at > lostAt).map((r) => r.partition)).toEqual([0, 0, 0]);
    // The partition still owned carries on.
    expect(t.committedOffset(0)).toBe(2);
    expect(t.runtime.ownedPartitions).toEqual([0]);
    await t.runtime.stop();
  });

  it('a rebalance resets the state of the partitions it takes away and of steps it cut short, not of the others', async () => {
    const t = setUp();
    await t.runtime.start();
    t.assign([0, 1, 2]);
    await t.fetch(0, [0, 1]);
    await t.fetch(1, [0, 1]);
    await jest.advanceTimersByTimeAsync(200);
    expect(t.resets).toEqual([]);

    // Partition 2's step waits for the producer when the rebalance comes, and then fails.
    t.kafka.producerInstance.gate.close();
    t.kafka.producerInstance.failures.push(new Error('broker gone'));
    await t.fetch(2, [0, 1]);
    await settle();
    t.assign([0, 2]);
    expect(t.resets).toEqual([1]); // taken away
    t.kafka.producerInstance.gate.open();
    await jest.advanceTimersByTimeAsync(200);
    // Partition 0 keeps its state; partition 2's cut step may have left memory ahead of Redis.
    expect(t.resets).toEqual([1, 2]);
    await t.fetch(0, [2, 3]);
    await jest.advanceTimersByTimeAsync(200);
    expect(t.resets).toEqual([1, 2]);
    expect(t.committedOffset(0)).toBe(4);
    await t.runtime.stop();
  });

  it('does not commit a lost partition’s position that was waiting for the next commit request', async () => {
    const t = setUp();
    await t.runtime.start();
    t.assign([0, 1]);
    await t.fetch(0, [0]);
    await jest.advanceTimersByTimeAsync(10); // commit request 1 goes at once
    await t.fetch(1, [0, 1]);
    await settle(); // partition 1's position waits for the commit interval
    t.assign([0]);
    await jest.advanceTimersByTimeAsync(500);
    expect(t.commits().filter((p) => p.partition === 1)).toEqual([]);
    await t.runtime.stop();
  });

  it('after a failed produce, seeks the partition back to its last commit and redoes it from there', async () => {
    const t = setUp();
    await t.runtime.start();
    t.assign([0]);
    await t.fetch(0, [0, 1]);
    await jest.advanceTimersByTimeAsync(200);
    expect(t.committedOffset(0)).toBe(2);

    t.kafka.producerInstance.failures.push(
      Object.assign(new Error('not enough replicas'), { retriable: true }),
    );
    await t.fetch(0, [2, 3]);
    await jest.advanceTimersByTimeAsync(200);
    const seeks = t.kafka.events.flatMap((e) => (e.type === 'seek' ? [e.position] : []));
    expect(seeks).toEqual([{ topic: CONV, partition: 0, nextOffset: '2' }]);
    expect(t.committedOffset(0)).toBe(2);
    expect(await t.metrics.total(t.metrics.stepRetries, { partition: '0' })).toBe(1);

    // A batch fetched before the seek is stale: dropped, not processed ahead of the redo.
    await t.fetch(0, [4, 5], { isStale: () => true });
    await t.fetch(0, [2, 3, 4, 5]);
    await jest.advanceTimersByTimeAsync(500);
    expect(t.echo.processed.map((p) => p.offset)).toEqual([0, 1, 2, 3, 2, 3, 4, 5]);
    expect(t.committedOffset(0)).toBe(6);
    await t.runtime.stop();
  });

  // kafka-restart: a later step's outputs must not be written while the step before it waits
  // for its redo (the redo's older content would arrive after them).
  it('after a failed produce, sends none of the partition’s later outputs before the redo', async () => {
    const t = setUp();
    await t.runtime.start();
    t.assign([0]);
    t.kafka.producerInstance.gate.close();
    t.kafka.producerInstance.failures.push(
      Object.assign(new Error('broker away'), { retriable: true }),
    );
    await t.fetch(0, [0, 1]);
    await settle(); // step 0-1's request is in flight, and will fail
    await t.fetch(0, [2, 3]);
    await settle(); // step 2-3's records wait behind it
    expect(t.echo.processed.map((p) => p.offset)).toEqual([0, 1, 2, 3]);
    t.kafka.producerInstance.gate.open();
    await jest.advanceTimersByTimeAsync(300);
    expect(t.sent()).toEqual([]);
    const seeks = t.kafka.events.flatMap((e) => (e.type === 'seek' ? [e.position] : []));
    expect(seeks).toEqual([{ topic: CONV, partition: 0, nextOffset: '0' }]);

    await t.fetch(0, [0, 1, 2, 3]);
    await jest.advanceTimersByTimeAsync(500);
    const keys = t.sent().filter((r) => r.topic === topics.receiptUpdates);
    expect(keys.map((r) => String(r.key))).toEqual(['k0', 'k1', 'k2', 'k3']);
    expect(t.committedOffset(0)).toBe(4);
    await t.runtime.stop();
  });

  it('a step is over only once the work it left (waitFor) settled: its outputs belong to the step, its failure fails it', async () => {
    const t = setUp();
    await t.runtime.start();
    t.assign([0]);
    t.echo.deferWork = true;
    t.echo.workGate.close();
    t.echo.workFailures.push(Object.assign(new Error('redis away'), { retriable: true }));
    await t.fetch(0, [0, 1]);
    await jest.advanceTimersByTimeAsync(50);
    // The processor went on past the work; the step is not over: nothing is produced yet.
    expect(t.echo.processed.map((p) => p.offset)).toEqual([0, 1]);
    expect(t.sent()).toEqual([]);
    expect(t.echo.hooked).toEqual([]);

    // The work fails: the step fails and is redone after its back-off; nothing is committed.
    t.echo.workGate.open();
    await jest.advanceTimersByTimeAsync(50);
    expect(t.sent()).toEqual([]);
    expect(t.commits()).toEqual([]);
    await jest.advanceTimersByTimeAsync(500);
    expect(t.echo.attempts).toHaveLength(2);
    // The redo's work ends: its output goes with the step's, before its hooks and commit.
    const keys = t
      .sent()
      .filter((r) => r.topic === topics.receiptUpdates)
      .map((r) => String(r.key));
    expect(keys).toEqual(['k0', 'k1', 'late-0']);
    expect(offsetsOfHooks(t.echo.hooked)).toEqual([0, 1]);
    expect(t.committedOffset(0)).toBe(2);
    await t.runtime.stop();
  });

  it('sends the outputs a step released while its work goes on, after its before-send hooks; commits once the rest went too', async () => {
    const t = await setUpReleasing();
    await t.fetch(0, [0, 1]);
    await jest.advanceTimersByTimeAsync(50);
    // The step is not over (its work waits), yet what it released is produced, hooks first.
    expect(t.updateKeys()).toEqual(['k0', 'k1']);
    expect(t.echo.beforeSent).toEqual([0]);
    expect(t.echo.hooked).toEqual([]);
    expect(t.commits()).toEqual([]);

    t.echo.workGate.open();
    await jest.advanceTimersByTimeAsync(200);
    // The rest (the work's output and the changelog) after it; the hooks run again for them.
    expect(t.updateKeys()).toEqual(['k0', 'k1', 'late-0']);
    expect(t.sent().filter((r) => r.topic === topics.stateChanges)).toHaveLength(1);
    expect(t.echo.beforeSent).toEqual([0, 0]);
    expect(offsetsOfHooks(t.echo.hooked)).toEqual([0, 1]);
    expect(t.committedOffset(0)).toBe(2);
    await t.runtime.stop();
  });

  it('a released send that fails fails its step’s delivery: the partition is redone from its last commit, and nothing of it goes out before the redo', async () => {
    const t = await setUpReleasing();
    t.kafka.producerInstance.failures.push(
      Object.assign(new Error('broker away'), { retriable: true }),
    );
    await t.fetch(0, [0, 1]);
    await jest.advanceTimersByTimeAsync(50);
    t.echo.workGate.open();
    await jest.advanceTimersByTimeAsync(300);
    expect(t.updateKeys()).toEqual([]);
    expect(t.commits()).toEqual([]);
    const seeks = t.kafka.events.flatMap((e) => (e.type === 'seek' ? [e.position] : []));
    expect(seeks).toEqual([{ topic: CONV, partition: 0, nextOffset: '0' }]);

    await t.fetch(0, [0, 1]);
    await jest.advanceTimersByTimeAsync(500);
    expect(t.updateKeys()).toEqual(['k0', 'k1', 'late-0']);
    expect(t.committedOffset(0)).toBe(2);
    await t.runtime.stop();
  });

  it('tells each step delivery’s stages: produced after its outputs and before its hooks, flushed after its hooks and before its commit', async () => {
    const t = setUp();
    await t.runtime.start();
    t.assign([0]);
    t.echo.hookGate.close();
    await t.fetch(0, [0, 1]);
    await jest.advanceTimersByTimeAsync(200);
    // Produced, the hook (the state flush) under way: not flushed, not committed.
    const stages = () =>
      t.kafka.events.flatMap((e): unknown[] =>
        e.type === 'stage' ? [[e.stage, e.partition, e.hooked]] : e.type === 'sent' ? ['sent'] : [],
      );
    expect(stages()).toEqual(['sent', ['produced', 0, 0]]);
    expect(t.commits()).toEqual([]);

    t.echo.hookGate.open();
    await jest.advanceTimersByTimeAsync(200);
    expect(stages()).toEqual(['sent', ['produced', 0, 0], ['flushed', 0, 2]]);
    const flushedAt = t.kafka.events.findIndex((e) => e.type === 'stage' && e.stage === 'flushed');
    const committedAt = t.kafka.events.findIndex((e) => e.type === 'commit');
    expect(committedAt).toBeGreaterThan(flushedAt);
    expect(t.committedOffset(0)).toBe(2);
    await t.runtime.stop();
  });

  it('calls before-send hooks in step order and produces a step’s outputs only once they resolved; one that fails produces nothing and its step is redone', async () => {
    const t = setUp();
    await t.runtime.start();
    t.assign([0]);
    /** The keys of the receipt updates produced (the changelog's have none). */
    t.echo.beforeGate.close();
    await t.fetch(0, [0, 1]);
    await jest.advanceTimersByTimeAsync(50);
    await t.fetch(0, [2, 3]);
    await jest.advanceTimersByTimeAsync(50);
    // Both steps processed and their hooks called, in step order; nothing produced meanwhile.
    expect(t.echo.processed.map((p) => p.offset)).toEqual([0, 1, 2, 3]);
    expect(t.echo.beforeSent).toEqual([0, 2]);
    expect(t.sent()).toEqual([]);
    t.echo.beforeGate.open();
    await jest.advanceTimersByTimeAsync(200);
    expect(t.updateKeys()).toEqual(['k0', 'k1', 'k2', 'k3']);
    expect(t.committedOffset(0)).toBe(4);

    // A hook that fails: nothing of its step goes out, nothing is committed, the step is redone.
    t.echo.beforeFailures.push(Object.assign(new Error('Redis down'), { retriable: true }));
    await t.fetch(0, [4, 5]);
    await jest.advanceTimersByTimeAsync(200);
    expect(t.updateKeys()).not.toContain('k4');
    expect(t.committedOffset(0)).toBe(4);
    await t.fetch(0, [4, 5]);
    await jest.advanceTimersByTimeAsync(500);
    expect(t.updateKeys()).toContain('k4');
    expect(t.committedOffset(0)).toBe(6);
    await t.runtime.stop();
  });

  it('hands a partition’s outputs to the producer in the order its deliveries began, even when a later one has no before-send hook to wait for', async () => {
    const punctuator = new RecordingPunctuator();
    const t = setUp({ punctuators: [punctuator] });
    await t.runtime.start();
    t.assign([0]);
    t.echo.beforeGate.close();
    await t.fetch(0, [0, 1]);
    await jest.advanceTimersByTimeAsync(50);
    expect(t.echo.beforeSent).toEqual([0]); // the step's delivery waits for its hook
    await jest.advanceTimersByTimeAsync(1_000); // the punctuation runs behind it on the lane
    expect(punctuator.runs.map((r) => r.partition)).toEqual([0]);
    // The punctuation's outputs (newer versions of the same conversations) do not overtake.
    expect(t.updateKeys()).toEqual([]);
    t.echo.beforeGate.open();
    await jest.advanceTimersByTimeAsync(500);
    expect(t.updateKeys()).toEqual(['k0', 'k1', 'tick-0']);
    await t.runtime.stop();
  });

  it('stamps a step’s records with the time they were handed to the producer, not the time a waiting send goes out', async () => {
    const t = setUp();
    await t.runtime.start();
    t.assign([0]);
    t.kafka.producerInstance.gate.close(); // the first send stays in flight
    await t.fetch(0, [0]);
    await jest.advanceTimersByTimeAsync(50);
    const firstHanded = Date.now();
    await jest.advanceTimersByTimeAsync(1_000);
    await t.fetch(0, [1]);
    await jest.advanceTimersByTimeAsync(50); // handed over, waiting behind the first send
    const secondHanded = Date.now();
    await jest.advanceTimersByTimeAsync(5_000);
    t.kafka.producerInstance.gate.open();
    await jest.advanceTimersByTimeAsync(500);
    const stampOf = (key: string) =>
      t.sent().find((r) => r.topic === topics.receiptUpdates && String(r.key) === key)!.timestamp;
    expect(stampOf('k0')).toBeLessThanOrEqual(firstHanded);
    expect(stampOf('k1')).toBeGreaterThan(firstHanded);
    expect(stampOf('k1')).toBeLessThanOrEqual(secondHanded);
    // The changelog record of a step carries its step's stamp too.
    const changes = t.sent().filter((r) => r.topic === topics.stateChanges);
    expect(changes.map((r) => r.timestamp)).toEqual([stampOf('k0'), stampOf('k1')]);
    await t.runtime.stop();
  });

  it('delivers a punctuation off its lane: a step queued behind it runs while the punctuation’s outputs wait for the producer, and goes out after them', async () => {
    const punctuator = new RecordingPunctuator();
    const t = setUp({ punctuators: [punctuator] });
    await t.runtime.start();
    t.assign([0]);
    t.kafka.producerInstance.gate.close();
    await jest.advanceTimersByTimeAsync(1_000); // punctuated; its produce waits at the gate
    expect(punctuator.runs.map((r) => r.partition)).toEqual([0]);
    await t.fetch(0, [0, 1]);
    await settle();
    // Processed now, not once the punctuation's round trips are over.
    expect(t.echo.processed.map((p) => p.offset)).toEqual([0, 1]);
    // The stop waits for the punctuation's delivery too.
    const stopped = t.runtime.stop();
    await settle();
    expect(t.sent()).toEqual([]);
    t.kafka.producerInstance.gate.open();
    await jest.advanceTimersByTimeAsync(500);
    await stopped;
    const updates = t.sent().filter((r) => r.topic === topics.receiptUpdates);
    expect(updates.map((r) => String(r.key))).toEqual(['tick-0', 'k0', 'k1']);
    expect(t.committedOffset(0)).toBe(2);
  });

  it('a punctuation whose delivery fails resets its partition’s state, and the punctuator runs again', async () => {
    const punctuator = new RecordingPunctuator();
    const t = setUp({ punctuators: [punctuator] });
    await t.runtime.start();
    t.assign([0]);
    t.kafka.producerInstance.failures.push(new Error('broker gone'));
    await jest.advanceTimersByTimeAsync(1_000);
    await settle();
    expect(t.resets).toEqual([0]);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(punctuator.runs.map((r) => r.partition)).toEqual([0, 0]);
    expect(t.sent().map((r) => String(r.key))).toEqual(['tick-0']);
    await t.runtime.stop();
  });

  it('a reset while a punctuation is in delivery does not wait for it: its hooks may read the reset stores', async () => {
    // Like the window index: the punctuation's after-send hook reads a store that waits for
    // what its last reset was told to wait for.
    let hooked = false;
    const punctuator: Punctuator = {
      name: 'closer',
      intervalMs: 1_000,
      punctuate: async (_partitions, ctx) => {
        ctx.send('receiptUpdates', `closed-${ctx.partition}`, {});
        ctx.afterSend(async () => {
          await t.resetSettled[t.resetSettled.length - 1];
          hooked = true;
        });
      },
    };
    const t = setUp({ punctuators: [punctuator] });
    await t.runtime.start();
    t.assign([0]);
    t.kafka.producerInstance.gate.close();
    await jest.advanceTimersByTimeAsync(1_000); // punctuated; its delivery waits at the gate
    t.echo.failures.push(new Error('step failed'));
    await t.fetch(0, [0]);
    await settle();
    expect(t.resets).toEqual([0]); // the failed step reset the partition
    t.kafka.producerInstance.gate.open();
    await jest.advanceTimersByTimeAsync(100);
    expect(hooked).toBe(true);
    await t.runtime.stop();
  });

  it('bounds what it holds fetched: 256 KiB per partition and fetch, a topic-partition paused at 2,000 buffered records', async () => {
    const t = setUp();
    await t.runtime.start();
    expect(t.consumer().options.maxBytesPerPartition).toBe(256 * 1024);
    t.assign([0]);
    t.echo.gate.close(); // the first step stays mid-processing: the rest waits in the buffer
    let paused = 0;
    const pause = () => {
      paused++;
      return () => undefined;
    };
    const offsets = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
    await t.fetch(0, offsets(0, 1_000), { pause });
    await settle();
    await t.fetch(0, offsets(1_000, 999), { pause });
    expect(paused).toBe(0); // 1,999 buffered (the first 1,000, in the step, until it is done)
    await t.fetch(0, offsets(1_999, 1), { pause });
    expect(paused).toBe(1);
    t.echo.gate.open();
    await t.runtime.stop();
  });

  it('runs the punctuators’ shutdown hook once per owned partition, and sends what it hands over', async () => {
    const closing: number[] = [];
    const punctuator: Punctuator = {
      name: 'closer',
      intervalMs: 60_000,
      punctuate: async () => undefined,
      beforeStop: async (partitions, ctx) => {
        closing.push(...partitions);
        ctx.send('receiptUpdates', `closed-${ctx.partition}`, {});
      },
    };
    const t = setUp({ punctuators: [punctuator] });
    await t.runtime.start();
    t.assign([2, 5]);
    await t.runtime.stop();
    expect(closing.sort()).toEqual([2, 5]);
    expect(
      t
        .sent()
        .map((r) => String(r.key))
        .sort(),
    ).toEqual(['closed-2', 'closed-5']);
  });
  describe('with partition leases', () => {
    const offsetsOf = (items: Array<{ partition: number; offset: number }>, partition: number) =>
      items.filter((i) => i.partition === partition).map((i) => i.offset);

    it('a partition waits for its lease before its first step, buffering what was fetched', async () => {
      const punctuator = new RecordingPunctuator();
      const t = setUp({ leases: true, punctuators: [punctuator] });
      // The previous owner of partition 0 still holds its lease.
      t.leases.elsewhere.add(0);
      await t.runtime.start();
      t.assign([0, 1]);
      await t.fetch(0, [0, 1]);
      await t.fetch(1, [0]);
      await jest.advanceTimersByTimeAsync(2_000);

      expect(offsetsOf(t.echo.processed, 0)).toEqual([]);
      expect(offsetsOf(t.echo.hooked, 0)).toEqual([]);
      expect(t.commits().filter((p) => p.partition === 0)).toEqual([]);
      expect(punctuator.runs.filter((r) => r.partition === 0)).toEqual([]);
      // Tried every tenth of the ttl meanwhile; partition 1 went on.
      const tries = t.leases.acquires.filter((a) => a.partition === 0);
      expect(tries.length).toBeGreaterThanOrEqual(15);
      expect(tries.slice(1).every((a, i) => a.at - tries[i]!.at <= 100)).toBe(true);
      expect(offsetsOf(t.echo.processed, 1)).toEqual([0]);
      expect(t.committedOffset(1)).toBe(1);

      // The previous owner lets go: the buffered records are processed and committed.
      t.leases.elsewhere.delete(0);
      await jest.advanceTimersByTimeAsync(1_500);
      expect(offsetsOf(t.echo.processed, 0)).toEqual([0, 1]);
      expect(offsetsOf(t.echo.hooked, 0)).toEqual([0, 1]);
      expect(t.committedOffset(0)).toBe(2);
      expect(punctuator.runs.some((r) => r.partition === 0)).toBe(true);
      await t.runtime.stop();
    });

    it('a delivery whose lease is gone runs no after-send hook and commits nothing', async () => {
      const t = setUp({ leases: true });
      await t.runtime.start();
      t.assign([0]);
      await t.fetch(0, [0, 1]);
      await jest.advanceTimersByTimeAsync(200);
      expect(t.committedOffset(0)).toBe(2);

      // Step 2-3 is processed; its outputs wait for the producer while the lease is taken.
      t.kafka.producerInstance.gate.close();
      await t.fetch(0, [2, 3]);
      await settle();
      expect(offsetsOf(t.echo.processed, 0)).toEqual([0, 1, 2, 3]);
      t.leases.elsewhere.add(0);
      t.leases.expire(0);
      t.kafka.producerInstance.gate.open();
      await settle();

      expect(offsetsOf(t.echo.hooked, 0)).toEqual([0, 1]);
      // 2-3's outputs were in the produce request already: they went out, and that is told,
      // though no hook of theirs ran.
      expect(offsetsOf(t.echo.acknowledged, 0)).toEqual([0, 1, 2, 3]);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(t.committedOffset(0)).toBe(2);
      expect(await t.metrics.total(t.metrics.leaseLost, { partition: '0' })).toBe(1);
      // Fetched again from its last commit once its lease is back; nothing runs until then.
      const seeks = t.kafka.events.flatMap((e) => (e.type === 'seek' ? [e.position] : []));
      expect(seeks).toEqual([{ topic: CONV, partition: 0, nextOffset: '2' }]);
      await t.fetch(0, [2, 3]);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(offsetsOf(t.echo.processed, 0)).toEqual([0, 1, 2, 3]);
      expect(t.committedOffset(0)).toBe(2);

      t.leases.elsewhere.delete(0);
      await jest.advanceTimersByTimeAsync(200);
      expect(offsetsOf(t.echo.processed, 0)).toEqual([0, 1, 2, 3, 2, 3]);
      expect(offsetsOf(t.echo.hooked, 0)).toEqual([0, 1, 2, 3]);
      expect(offsetsOf(t.echo.acknowledged, 0)).toEqual([0, 1, 2, 3, 2, 3]);
      expect(t.committedOffset(0)).toBe(4);
      expect(await t.metrics.total(t.metrics.leaseLost, { partition: '0' })).toBe(1);
      await t.runtime.stop();
    });

    it('a step processed before its lease was lost runs no hook, even once the lease is back', async () => {
      const t = setUp({ leases: true });
      await t.runtime.start();
      t.assign([0]);
      t.kafka.producerInstance.gate.close();
      await t.fetch(0, [0, 1]);
      await settle();
      await t.fetch(0, [2, 3]);
      await settle();
      expect(offsetsOf(t.echo.processed, 0)).toEqual([0, 1, 2, 3]);
      // The lease runs out and is acquired again at once (no one else took it) while both
      // steps wait for the producer: neither step's hooks may run, nor may it commit.
      t.leases.expire(0);
      t.kafka.producerInstance.gate.open();
      await jest.advanceTimersByTimeAsync(300);
      expect(t.leases.holds(0)).toBe(true);
      expect(t.echo.hooked).toEqual([]);
      expect(t.commits()).toEqual([]);
      // Redone from the last commit under the new lease.
      await t.fetch(0, [0, 1, 2, 3]);
      await jest.advanceTimersByTimeAsync(300);
      expect(offsetsOf(t.echo.hooked, 0)).toEqual([0, 1, 2, 3]);
      expect(t.committedOffset(0)).toBe(4);
      await t.runtime.stop();
    });

    it('a step whose lease ran out while it was processed produces nothing', async () => {
      const t = setUp({ leases: true });
      await t.runtime.start();
      t.assign([0]);
      await t.fetch(0, [0, 1]);
      await jest.advanceTimersByTimeAsync(200);
      const sentBefore = t.sent().length;
      // Step 2-3 is mid-processing (a stalled process) when its lease runs out.
      t.echo.gate.close();
      await t.fetch(0, [2, 3]);
      await settle();
      t.leases.elsewhere.add(0);
      t.leases.expire(0);
      t.echo.gate.open();
      await jest.advanceTimersByTimeAsync(300);
      expect(offsetsOf(t.echo.processed, 0)).toEqual([0, 1, 2, 3]);
      expect(t.sent().length).toBe(sentBefore);
      expect(offsetsOf(t.echo.hooked, 0)).toEqual([0, 1]);
      expect(t.committedOffset(0)).toBe(2);
      await t.runtime.stop();
    });

    it('outputs waiting behind a produce request in flight are not produced once the lease is lost', async () => {
      const t = setUp({ leases: true });
      await t.runtime.start();
      t.assign([0]);
      t.kafka.producerInstance.gate.close();
      await t.fetch(0, [0, 1]);
      await settle(); // step 0-1's request is in flight
      await t.fetch(0, [2, 3]);
      await settle(); // step 2-3's records wait for it
      expect(offsetsOf(t.echo.processed, 0)).toEqual([0, 1, 2, 3]);
      t.leases.elsewhere.add(0);
      t.leases.expire(0);
      t.kafka.producerInstance.gate.open();
      await jest.advanceTimersByTimeAsync(300);
      const keys = t.sent().map((r) => String(r.key));
      expect(keys).toContain('k1');
      expect(keys).not.toContain('k2');
      // What went out is told as acknowledged; what did not, not.
      expect(offsetsOf(t.echo.acknowledged, 0)).toEqual([0, 1]);
      expect(t.echo.hooked).toEqual([]);
      expect(t.commits()).toEqual([]);
      await t.runtime.stop();
    });

    it('a step that asks mid-step whether its lease is held stops there when it is not, and is redone once it is back', async () => {
      const t = setUp({ leases: true });
      await t.runtime.start();
      t.assign([0]);
      t.echo.checkLease = true;
      t.echo.gate.close();
      await t.fetch(0, [0, 1]);
      await settle();
      t.leases.elsewhere.add(0);
      t.leases.expire(0);
      t.echo.gate.open();
      await jest.advanceTimersByTimeAsync(300);
      expect(t.echo.processed).toEqual([]);
      expect(t.sent()).toEqual([]);
      // Not a failure of the step: the lease's loss is counted, not a retry.
      expect(await t.metrics.total(t.metrics.leaseLost, { partition: '0' })).toBe(1);
      expect(await t.metrics.total(t.metrics.stepRetries, { partition: '0' })).toBe(0);

      t.leases.elsewhere.delete(0);
      await jest.advanceTimersByTimeAsync(200);
      await t.fetch(0, [0, 1]);
      await jest.advanceTimersByTimeAsync(300);
      expect(offsetsOf(t.echo.processed, 0)).toEqual([0, 1]);
      expect(t.committedOffset(0)).toBe(2);
      await t.runtime.stop();
    });

    it('a lease lost while the hooks ran commits nothing', async () => {
      const t = setUp({ leases: true });
      await t.runtime.start();
      t.assign([0]);
      t.echo.hookGate.close();
      await t.fetch(0, [0, 1]);
      await settle();
      expect(offsetsOf(t.echo.hooked, 0)).toEqual([0, 1]); // started under the lease
      t.leases.expire(0);
      t.echo.hookGate.open();
      await settle();
      await jest.advanceTimersByTimeAsync(150); // past the commit interval
      expect(t.commits()).toEqual([]);
      expect(t.echo.lateHooked).toEqual([]); // the hooks after it did not run
      // Its outputs were produced: that is told, whatever became of the hooks.
      expect(offsetsOf(t.echo.acknowledged, 0)).toEqual([0, 1]);
      expect(await t.metrics.total(t.metrics.leaseLost, { partition: '0' })).toBe(1);
      await t.runtime.stop();
    });

    it('a lease found taken by a renewal stops the partition at once', async () => {
      const t = setUp({ leases: true });
      await t.runtime.start();
      t.assign([0]);
      await jest.advanceTimersByTimeAsync(100);
      t.leases.elsewhere.add(0);
      await jest.advanceTimersByTimeAsync(400); // a renewal finds the other holder
      expect(await t.metrics.total(t.metrics.leaseLost, { partition: '0' })).toBe(1);
      await t.fetch(0, [0]);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(t.echo.processed).toEqual([]);
      expect(t.commits()).toEqual([]);
      await t.runtime.stop();
    });

    it('releases a partition’s lease when the group takes it away, once its deliveries settled, and all on stop', async () => {
      const t = setUp({ leases: true });
      await t.runtime.start();
      t.assign([0, 1]);
      await jest.advanceTimersByTimeAsync(10);
      t.kafka.producerInstance.gate.close();
      await t.fetch(1, [0, 1]);
      await settle();

      t.assign([0]);
      await jest.advanceTimersByTimeAsync(2_000);
      // Its delivery still waits for the producer: the lease is kept (renewed) meanwhile.
      expect(t.released(1)).toBe(-1);
      expect(t.leases.holds(1)).toBe(true);

      t.kafka.producerInstance.gate.open();
      await jest.advanceTimersByTimeAsync(100);
      const sentAt = t.kafka.events.findIndex(
        (e) => e.type === 'sent' && e.records.some((r) => String(r.key) === 'k1'),
      );
      expect(sentAt).toBeGreaterThanOrEqual(0);
      expect(t.released(1)).toBeGreaterThan(sentAt);
      // Its hooks ran under the lease; nothing of the lost generation was committed.
      expect(offsetsOf(t.echo.hooked, 1)).toEqual([0, 1]);
      expect(t.commits().filter((p) => p.partition === 1)).toEqual([]);
      expect(t.leases.holds(0)).toBe(true);
      expect(t.released(0)).toBe(-1);

      // stop(): the final delivery and its commit first, then the lease.
      await t.fetch(0, [0]);
      await t.runtime.stop();
      const committedAt = t.kafka.events.findIndex(
        (e) => e.type === 'commit' && e.positions.some((p) => p.partition === 0),
      );
      expect(committedAt).toBeGreaterThanOrEqual(0);
      expect(t.released(0)).toBeGreaterThan(committedAt);
      expect(t.leases.holds(0)).toBe(false);
    });

    it('renews the leases only while the group heartbeats are fresher than the session timeout', async () => {
      const t = setUp({ leases: true });
      await t.runtime.start();
      t.assign([0]);
      for (let i = 0; i < 3; i++) {
        await jest.advanceTimersByTimeAsync(3_000);
        t.heartbeat();
      }
      const lastHeartbeat = Date.now();
      expect(t.leases.renewals.length).toBeGreaterThanOrEqual(25); // every ~300 ms
      expect(t.leases.holds(0)).toBe(true);

      // Heartbeats stop (a stalled event loop, a coordinator out of reach).
      await jest.advanceTimersByTimeAsync(15_000);
      const late = t.leases.renewals.filter((at) => at >= lastHeartbeat + 10_000);
      expect(late).toEqual([]);
      expect(Math.max(...t.leases.renewals)).toBeGreaterThan(lastHeartbeat + 9_000);
      expect(t.leases.holds(0)).toBe(false);
      expect(await t.metrics.total(t.metrics.leaseLost, { partition: '0' })).toBe(1);
      // Without a valid lease nothing is processed — and none is acquired while unhealthy.
      const tries = t.leases.acquires.length;
      await t.fetch(0, [0]);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(t.echo.processed).toEqual([]);
      expect(t.leases.acquires.length).toBe(tries);

      // The group takes the member back (a join): the lease is acquired, the partition goes on.
      t.assign([0]);
      await t.fetch(0, [0]);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(t.echo.processed.map((p) => p.offset)).toEqual([0]);
      expect(t.committedOffset(0)).toBe(1);
      await t.runtime.stop();
    });
  });
});
