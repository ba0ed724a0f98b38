import type { Logger } from 'pino';
import type { DeadLetterReason, StateChange } from '../schemas/types';
import { changelogRecords } from './changelog';
import type {
  CommitPosition,
  GroupConsumer,
  InboundBatch,
  InboundRecord,
  RecordProducer,
  StreamClient,
} from './kafka/types';
import type { PipelineMetrics } from './metrics';
import { OffsetCommitter } from './offset-committer';
import { OutputSink } from './output-sink';
import { PartitionTask, type PartitionTaskOptions, type Step } from './partition-task';
import type { TopicNames, TopicRole } from './topics';

/** Decodes and encodes record values; implemented by the Avro codec over the schema registry. */
export interface RecordCodec {
  decode(value: Buffer): Promise<{ role: TopicRole; value: unknown }>;
  encode(role: TopicRole, value: never): Promise<Buffer>;
  /** Synchronous decode when the schema is known already (undefined when not): no promise per record. */
  decodeCached(value: Buffer): { role: TopicRole; value: unknown } | undefined;
  /** Synchronous encode. */
  encodeNow(role: TopicRole, value: never): Buffer;
}

/** A decoding failure that says which dead-letter reason applies. */
export interface ReasonedError extends Error {
  reason: DeadLetterReason;
}

export function isReasoned(err: unknown): err is ReasonedError {
  return err instanceof Error && typeof (err as Partial<ReasonedError>).reason === 'string';
}

export interface Decoded<T> {
  record: InboundRecord;
  value: T;
}

/** The processor's only door out, as in Kafka Streams: forward to sinks, dead letters, hooks. */
export interface ProcessorContext {
  /** Queue a record for a sink topic; produced before the source offsets are committed. */
  send(role: TopicRole, key: string, value: unknown): void;
  /**
   * Log an applied change of a conversation of input partition `partition` to the state_changes
   * changelog; a step's changes go out together (see changelog.ts), before the commit.
   */
  logChange(partition: number, change: StateChange): void;
  /** Queue the original record for the dead-letter topic with its reason. */
  deadLetter(record: InboundRecord, reason: DeadLetterReason, detail: string): void;
  /** Runs after this batch's records were produced (and before the commit). */
  afterSend(fn: () => Promise<void>): void;
  readonly now: number;
}

export interface Processor<T> {
  readonly name: string;
  readonly source: TopicRole;
  process(records: Decoded<T>[], context: ProcessorContext): Promise<void>;
}

/** Wall-clock work (closing windows, expiring held receipts) over the partitions we own. */
export interface Punctuator {
  readonly name: string;
  readonly intervalMs: number;
  /**
   * Also run right at wall-clock times k × everyMs + offsetMs (window ends), so work that is due
   * then does not wait up to an interval.
   */
  readonly aligned?: { everyMs: number; offsetMs: number };
  punctuate(partitions: number[], context: ProcessorContext): Promise<void>;
  /** On shutdown: finish what must not wait for the next owner (e.g. close open windows now). */
  flush?(partitions: number[], context: ProcessorContext): Promise<void>;
}

export interface StreamRuntimeOptions {
  kafka: StreamClient;
  codec: RecordCodec;
  topics: TopicNames;
  groupId: string;
  sessionTimeoutMs: number;
  processors: Processor<unknown>[];
  punctuators: Punctuator[];
  metrics: PipelineMetrics;
  logger: Logger;
  /** Tuning of the partition tasks; defaults in DEFAULT_TASK_OPTIONS. */
  task?: Partial<PartitionTaskOptions>;
  /** Wait before a produce request to gather other steps' outputs (Kafka's linger.ms); 0 by default. */
  produceLingerMs?: number;
}

export const DEFAULT_TASK_OPTIONS: PartitionTaskOptions = {
  maxStepRecords: 1_000,
  maxBufferedRecords: 10_000,
  maxIdleMs: 1_000,
  maxLeadWaitMs: 30_000,
};

/** Batches of different partitions kafkajs hands over at once (they run as separate tasks). */
const CONCURRENT_PARTITIONS = 16;
/** Pause before a failed step is tried again. */
const RETRY_MS = 1_000;
/** Steps of a partition whose produce and commit may still be under way while the next runs. */
const STEPS_IN_FLIGHT = 3;
/** Offsets are committed together at most this often (Kafka Streams' commit.interval.ms). */
const COMMIT_INTERVAL_MS = 100;

interface PendingOutput {
  role: TopicRole;
  key: string | null;
  value: unknown;
  headers?: Record<string, string>;
  partition?: number;
}

class BatchContext implements ProcessorContext {
  readonly outputs: PendingOutput[] = [];
  readonly hooks: Array<() => Promise<void>> = [];
  /** Changelog entries by input partition, in the order they were applied. */
  readonly changes = new Map<number, StateChange[]>();
  readonly now = Date.now();

  constructor(
    private readonly metrics: PipelineMetrics,
    private readonly logger: Logger,
  ) {}

  send(role: TopicRole, key: string, value: unknown): void {
    this.outputs.push({ role, key, value });
  }

  logChange(partition: number, change: StateChange): void {
    const list = this.changes.get(partition);
    if (list) list.push(change);
    else this.changes.set(partition, [change]);
  }

  /** The changelog records: one (or a few, if large) per input partition, to that partition. */
  changelogOutputs(): PendingOutput[] {
    const outputs: PendingOutput[] = [];
    for (const [partition, changes] of this.changes)
      for (const slice of changelogRecords(changes))
        outputs.push({ role: 'stateChanges', key: null, partition, value: { changes: slice } });
    return outputs;
  }

  deadLetter(record: InboundRecord, reason: DeadLetterReason, detail: string): void {
    this.metrics.deadLetters.inc({ reason });
    this.logger.warn(
      {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        key: record.key?.toString('utf8'),
        reason,
        detail,
      },
      'record sent to the dead letters',
    );
    this.outputs.push({
      role: 'deadLetters',
      key: record.key ? record.key.toString('utf8') : null,
      headers: {
        'ticks.reason': reason,
        'ticks.source': `${record.topic}/${record.partition}/${record.offset}`,
      },
      value: {
        source_topic: record.topic,
        source_partition: record.partition,
        source_offset: Number(record.offset),
        key: record.key,
        value: record.value,
        reason,
        detail,
        failed_at: this.now,
      },
    });
  }

  afterSend(fn: () => Promise<void>): void {
    this.hooks.push(fn);
  }
}

/**
 * Runs the topology: one consumer group over the co-partitioned input topics, one task per
 * partition (Kafka Streams' stream task).
 *
 * Fetching and processing are decoupled: a fetched batch goes to its task's buffer and kafkajs
 * fetches on; a task whose buffer is full has its topic-partition paused. A task processes its
 * buffer in steps — decode → processors (the leading topic first) → hand the outputs to the
 * producer — with receipts taken in event-time order after the conversation events they may
 * refer to (see PartitionTask). A step's produce, after-send hooks and commit run while the
 * next step is processed (at most STEPS_IN_FLIGHT), and commits stay in step order, each after
 * its own outputs were acknowledged: at-least-once, as before. If that tail fails, the partition
 * is fetched again from its last commit and redone (idempotent effects).
 *
 * Tasks of different partitions run concurrently (their conversations are disjoint), sharing
 * one producer and one committer that merge their requests; a partition's steps and its
 * punctuations never overlap, so a window is never closed while a step adds to it.
 */
export class StreamRuntime {
  private consumer: GroupConsumer | undefined;
  private producer: RecordProducer | undefined;
  private sink: OutputSink | undefined;
  private committer: OffsetCommitter | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private owned: number[] = [];
  private readonly bySource = new Map<string, Processor<unknown>>();
  /** Source topics in processor order: the first leads (see PartitionTask). */
  private readonly sourceTopics: string[];
  private readonly taskOptions: PartitionTaskOptions;
  private tasks = new Map<number, PartitionTask>();
  /** Each partition's chain of steps and punctuations: they run one at a time, in order. */
  private readonly chains = new Map<number, Promise<unknown>>();
  /** Each task's steps whose produce/hooks/commit are still running, oldest first. */
  private readonly tails = new Map<PartitionTask, Array<Promise<void>>>();
  private readonly retryTimers = new Map<number, NodeJS.Timeout>();
  /** Tasks with a turn queued in their partition's chain. */
  private readonly pumpQueued = new Set<PartitionTask>();
  private readonly busyPunctuations = new Set<string>();
  private generation = 0;
  private stopping = false;

  constructor(private readonly options: StreamRuntimeOptions) {
    for (const p of options.processors) this.bySource.set(options.topics[p.source], p);
    this.sourceTopics = [...this.bySource.keys()];
    this.taskOptions = { ...DEFAULT_TASK_OPTIONS, ...options.task };
  }

  get ownedPartitions(): number[] {
    return this.owned;
  }

  async start(): Promise<void> {
    const { kafka, groupId } = this.options;
    this.producer = await kafka.producer();
    this.sink = new OutputSink(this.producer, this.options.produceLingerMs ?? 0);
    const consumer = kafka.groupConsumer({
      groupId,
      topics: this.sourceTopics,
      coPartitioned: true,
      fromBeginning: true,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      partitionsConsumedConcurrently: CONCURRENT_PARTITIONS,
      onBatch: (batch) => this.onBatch(batch),
      onAssignment: (assignment) => this.onAssignment(assignment),
    });
    this.consumer = consumer;
    this.committer = new OffsetCommitter(consumer, COMMIT_INTERVAL_MS);
    await consumer.start();
    for (const punctuator of this.options.punctuators) {
      const timer = setInterval(() => this.schedulePunctuation(punctuator), punctuator.intervalMs);
      this.timers.push(timer);
      if (punctuator.aligned) this.scheduleAligned(punctuator, punctuator.aligned);
    }
  }

  private scheduleAligned(
    punctuator: Punctuator,
    { everyMs, offsetMs }: { everyMs: number; offsetMs: number },
  ): void {
    if (this.stopping) return;
    const now = Date.now();
    const next = Math.floor((now - offsetMs) / everyMs + 1) * everyMs + offsetMs;
    // 1 ms late: the due time itself must have passed for Date.now() >= due.
    const timer = setTimeout(
      () => {
        this.timers.splice(this.timers.indexOf(timer), 1);
        this.schedulePunctuation(punctuator);
        this.scheduleAligned(punctuator, { everyMs, offsetMs });
      },
      next - now + 1,
    );
    this.timers.push(timer);
  }

  /** Stops punctuators, lets the steps in flight finish and commit, then leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    for (const t of this.retryTimers.values()) clearTimeout(t);
    await Promise.all([...this.chains.values()].map((c) => c.catch(() => undefined)));
    await Promise.all([...this.tails.values()].flat().map((t) => t.catch(() => undefined)));
    if (this.producer && this.owned.length > 0) {
      for (const punctuator of this.options.punctuators) {
        if (!punctuator.flush) continue;
        const context = new BatchContext(this.options.metrics, this.options.logger);
        await punctuator
          .flush(this.owned, context)
          .then(() => this.flush(context))
          .catch((err: unknown) =>
            this.options.logger.error(
              { err, punctuator: punctuator.name },
              'flush on shutdown failed; the next owner finishes it',
            ),
          );
      }
    }
    for (const task of this.tasks.values()) task.release();
    this.tasks.clear();
    await this.sink?.idle();
    await this.committer?.idle();
    await this.consumer?.stop();
    await this.producer?.close();
    this.consumer = undefined;
    this.producer = undefined;
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    // A new generation: kafkajs restarts every partition from its committed offset, so what
    // the tasks buffered (never committed) is dropped and will be fetched again.
    this.generation++;
    for (const task of this.tasks.values()) this.drop(task);
    this.tasks = new Map();
    const partitions = new Set<number>();
    for (const topic of this.sourceTopics)
      for (const p of assignment[topic] ?? []) partitions.add(p);
    this.owned = [...partitions].sort((a, b) => a - b);
    this.options.logger.info({ partitions: this.owned }, 'partitions assigned');
  }

  /** Buffers the batch and returns: kafkajs fetches on while the task processes. */
  private async onBatch(batch: InboundBatch): Promise<void> {
    if (this.stopping || batch.records.length === 0) return;
    let task = this.tasks.get(batch.partition);
    if (!task) {
      task = new PartitionTask(
        batch.partition,
        this.generation,
        this.sourceTopics,
        this.taskOptions,
      );
      this.tasks.set(batch.partition, task);
    }
    task.add(batch);
    this.pumpSoon(task);
  }

  /** Queues one turn of the task in its partition's chain, unless one is queued already. */
  private pumpSoon(task: PartitionTask): void {
    if (this.pumpQueued.has(task)) return;
    this.pumpQueued.add(task);
    this.onPartition(task.partition, () => {
      this.pumpQueued.delete(task);
      return this.turn(task);
    }).catch((err: unknown) =>
      this.options.logger.error({ err, partition: task.partition }, 'partition task failed'),
    );
  }

  /** Runs `fn` after everything queued for the partition (steps and punctuations). */
  private onPartition<T>(partition: number, fn: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(partition) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const chain = run.catch(() => undefined);
    this.chains.set(partition, chain);
    void chain.then(() => {
      if (this.chains.get(partition) === chain) this.chains.delete(partition);
    });
    return run;
  }

  private current(task: PartitionTask): boolean {
    return !this.stopping && this.tasks.get(task.partition) === task;
  }

  /**
   * One turn: the next step the task can take, then the partition is yielded (a punctuation
   * queued meanwhile runs before the following step) and another turn queued if more is ready.
   * A failed step is retried later from its buffered records.
   */
  private async turn(task: PartitionTask): Promise<void> {
    if (!this.current(task)) return;
    const step = task.nextStep(Date.now());
    if (!step) {
      if (task.waiting) this.retryLater(task, this.taskOptions.maxIdleMs);
      return;
    }
    let context: BatchContext;
    try {
      context = await this.process(task, step);
    } catch (err) {
      this.options.logger.error(
        { err, partition: task.partition },
        `step failed; retried in ${RETRY_MS} ms`,
      );
      this.retryLater(task, RETRY_MS);
      return;
    }
    task.complete(step);
    let tails = this.tails.get(task);
    if (!tails) this.tails.set(task, (tails = []));
    const tail = this.finish(task, step, context, tails[tails.length - 1]);
    tails.push(tail);
    const list = tails;
    tail
      .catch(() => undefined) // logged by restart()
      .finally(() => list.splice(list.indexOf(tail), 1));
    if (tails.length >= STEPS_IN_FLIGHT) await tails[0]!.catch(() => undefined);
    this.pumpSoon(task);
  }

  private retryLater(task: PartitionTask, ms: number): void {
    if (this.retryTimers.has(task.partition)) return;
    const timer = setTimeout(() => {
      this.retryTimers.delete(task.partition);
      this.pumpSoon(task);
    }, ms);
    this.retryTimers.set(task.partition, timer);
  }

  /** Decodes and runs the processors over a step; its outputs wait in the returned context. */
  private async process(task: PartitionTask, step: Step): Promise<BatchContext> {
    const context = new BatchContext(this.options.metrics, this.options.logger);
    for (let i = 0; i < step.records.length; i++) {
      const records = step.records[i]!;
      if (records.length === 0) continue;
      const processor = this.bySource.get(task.topics[i]!)!;
      const decoded = await this.decode(records, processor, context);
      if (decoded.length > 0) await processor.process(decoded, context);
    }
    return context;
  }

  /**
   * A processed step's tail: produce its outputs, run its after-send hooks, then — once the
   * step before it is committed — commit it. A failure sends the partition back to its last
   * commit: the buffered steps after this one are dropped and fetched again.
   */
  private async finish(
    task: PartitionTask,
    step: Step,
    context: BatchContext,
    previous: Promise<void> | undefined,
  ): Promise<void> {
    const { metrics } = this.options;
    const first = step.records.findIndex((r) => r.length > 0);
    const stopTimer = metrics.batchDuration.startTimer({ topic: task.topics[first]! });
    const positions: CommitPosition[] = [];
    step.records.forEach((records, i) => {
      const last = records[records.length - 1];
      if (last)
        positions.push({
          topic: task.topics[i]!,
          partition: task.partition,
          nextOffset: String(Number(last.offset) + 1),
        });
    });
    try {
      await this.flush(context);
      await previous;
    } catch (err) {
      if (task.generation !== this.generation) return; // failed because of the rebalance
      this.restart(task, err);
      throw err;
    }
    if (task.generation !== this.generation) return; // a rebalance: the partition is re-read
    // Handed over in step order; the committer sends them together, at most every
    // COMMIT_INTERVAL_MS. The next step's tail need not wait for the request.
    this.committer!.commit(positions).then(
      () => this.committed(task, step, positions, stopTimer),
      (err: unknown) => {
        if (task.generation === this.generation) this.restart(task, err);
      },
    );
  }

  private committed(
    task: PartitionTask,
    step: Step,
    positions: CommitPosition[],
    stopTimer: () => number,
  ): void {
    const { metrics } = this.options;
    for (const p of positions) task.committed(p.topic, Number(p.nextOffset));
    step.records.forEach((records, i) => {
      const last = records[records.length - 1];
      if (!last) return;
      const topic = task.topics[i]!;
      metrics.batchSize.observe({ topic }, records.length);
      const end = task.endOf(topic);
      if (end !== undefined)
        metrics.consumerLag.set(
          { topic, partition: String(task.partition) },
          Math.max(0, end - Number(last.offset) - 1),
        );
    });
    const seconds = stopTimer();
    this.options.logger.debug(
      { partition: task.partition, records: step.records.map((r) => r.length), seconds },
      'step committed',
    );
  }

  /** Forgets a task: resumes what it paused; its steps in flight finish without committing. */
  private drop(task: PartitionTask): void {
    task.release();
    const tails = this.tails.get(task);
    if (tails)
      void Promise.allSettled(tails).then(() => {
        if (this.tails.get(task) === tails) this.tails.delete(task);
      });
  }

  /** Drops a task whose outputs or commit failed and fetches its partition again. */
  private restart(task: PartitionTask, err: unknown): void {
    if (this.tasks.get(task.partition) !== task) return;
    this.options.logger.error(
      { err, partition: task.partition },
      'producing or committing a step failed; the partition is fetched again from its last commit',
    );
    this.tasks.delete(task.partition);
    this.drop(task);
    for (const point of task.restartPoints())
      this.consumer?.seek({
        topic: point.topic,
        partition: task.partition,
        nextOffset: String(point.nextOffset),
      });
  }

  private async decode(
    records: InboundRecord[],
    processor: Processor<unknown>,
    context: BatchContext,
  ): Promise<Decoded<unknown>[]> {
    const decoded: Decoded<unknown>[] = [];
    for (const record of records) {
      if (record.value === null) {
        context.deadLetter(
          record,
          'UNDECODABLE',
          'record has no value (tombstone) on an event topic',
        );
        continue;
      }
      try {
        const { codec } = this.options;
        const { role, value } =
          codec.decodeCached(record.value) ?? (await codec.decode(record.value));
        if (role !== processor.source) {
          context.deadLetter(
            record,
            'UNKNOWN_SCHEMA',
            `record is a ${role} value, not a ${processor.source} value`,
          );
          continue;
        }
        decoded.push({ record, value });
      } catch (err) {
        if (!isReasoned(err)) throw err; // registry unreachable: fail the step, it is retried
        context.deadLetter(record, err.reason, err.message);
      }
    }
    return decoded;
  }

  /** Each punctuator runs per owned partition, in that partition's chain; one at a time each. */
  private schedulePunctuation(punctuator: Punctuator): void {
    if (this.stopping) return;
    for (const partition of this.owned) {
      const key = `${punctuator.name}\u0000${partition}`;
      if (this.busyPunctuations.has(key)) continue;
      this.busyPunctuations.add(key);
      const generation = this.generation;
      void this.onPartition(partition, async () => {
        if (this.stopping || generation !== this.generation) return;
        const context = new BatchContext(this.options.metrics, this.options.logger);
        await punctuator.punctuate([partition], context);
        await this.flush(context);
      })
        .catch((err: unknown) =>
          this.options.logger.error(
            { err, punctuator: punctuator.name, partition },
            'punctuator failed; retried next tick',
          ),
        )
        .finally(() => this.busyPunctuations.delete(key));
    }
  }

  private async flush(context: BatchContext): Promise<void> {
    const outputs =
      context.changes.size > 0
        ? [...context.changelogOutputs(), ...context.outputs]
        : context.outputs;
    if (outputs.length > 0) {
      const { codec, topics } = this.options;
      const records = outputs.map((o) => ({
        topic: topics[o.role],
        key: o.key,
        value: codec.encodeNow(o.role, o.value as never),
        headers: o.headers,
        partition: o.partition,
      }));
      await this.sink!.send(records);
    }
    for (const hook of context.hooks) await hook();
  }
}
