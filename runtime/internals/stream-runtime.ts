import type { Logger } from 'pino';
import type { Decoded, PartitionStateStore, Processor, Punctuator } from '../api/processor';
import { isReasoned, type RecordCodec } from '../api/record-codec';
import type {
  CommitPosition,
  ConsumerStatus,
  InboundBatch,
  InboundRecord,
  OutboundRecord,
} from '../kafka/types';
import type { PipelineMetrics } from '../metrics';
import type { TopicNames } from '../topics';
import { BufferedContext, type PendingOutput } from './buffered-context';
import { OffsetCommitter } from './offset-committer';
import { OutputSink } from './output-sink';
import { PartitionLanes } from './partition-lanes';
import {
  PartitionLeaseLostError,
  PartitionOwnership,
  type LeaseLossReason,
  type PartitionLeaseStore,
} from './partition-ownership';
import { PartitionTask, type PartitionTaskOptions, type Step } from './partition-task';
import { PunctuationScheduler } from './punctuation-scheduler';
import { DEFAULT_BACKOFF, StepBackoff, isRetriable, type BackoffOptions } from './step-backoff';
import type { StreamConsumer, StreamKafka, StreamProducer } from './stream-kafka';

export interface StreamRuntimeOptions {
  /** The producer and group consumer to use (KafkaClient, or a fake in tests). */
  kafka: StreamKafka;
  codec: RecordCodec;
  topics: TopicNames;
  groupId: string;
  sessionTimeoutMs: number;
  /** One per source topic; the first one's topic leads (see PartitionTask). */
  processors: Processor<unknown>[];
  punctuators: Punctuator[];
  metrics: PipelineMetrics;
  logger: Logger;
  /** Tuning of the partition tasks; defaults in DEFAULT_TASK_OPTIONS. */
  task?: Partial<PartitionTaskOptions>;
  /** Wait before a produce request to gather other steps' outputs (Kafka's linger.ms); 0 by default. */
  produceLingerMs?: number;
  /** Waits before a failed step is tried again; defaults in DEFAULT_BACKOFF. */
  backoff?: Partial<BackoffOptions>;
  /** In-memory state of the owned partitions, reset where it may be ahead of what was delivered. */
  stateStores?: PartitionStateStore[];
  /**
   * Partition leases fencing the partitions' state writes (see PartitionOwnership); without
   * them (the offline batcher) a partition's steps run as soon as it is assigned.
   */
  leases?: PartitionLeaseStore;
  /**
   * Told as each step's delivery passes a stage: `produced` once its outputs are acknowledged, before its after-send hooks (the state
   * write-behind); `flushed` once those hooks are done, before its offsets are committed.
   * Test-only: the fault injection (TICKS_FAULT_KILL_AT) kills the process there.
   */
  onDeliveryStage?: (stage: DeliveryStage, partition: number) => void;
}

/** Points of a step's delivery a test may crash the process at (see onDeliveryStage). */
export type DeliveryStage = 'produced' | 'flushed';

export const DEFAULT_TASK_OPTIONS: PartitionTaskOptions = {
  maxStepRecords: 1_000,
  // Two steps ahead: the next fetch (at most FETCH_BYTES_PER_PARTITION, within 100 ms) comes
  // long before they are processed. 10,000 held ~150,000 fetched records (~90 MiB of heap, and
  // twice that before a major GC) over 6 partitions of the two topics in a drain.
  maxBufferedRecords: 2_000,
  maxIdleMs: 1_000,
  maxLeadWaitMs: 30_000,
};

/** Batches of different partitions kafkajs hands over at once (they go to separate tasks). */
const CONCURRENT_PARTITIONS = 16;
/**
 * Most bytes one fetch brings of a partition: of the order of what a task buffers
 * (maxBufferedRecords). A task pauses its topic-partition only once a batch is in, so batches
 * much larger than the buffer (1 MiB before) overshoot it by as much.
 */
const FETCH_BYTES_PER_PARTITION = 256 * 1024;
/** Steps of a partition whose delivery may still be under way while the next is processed. */
const MAX_DELIVERIES_IN_FLIGHT = 3;
/** Offsets are committed together at most this often (Kafka Streams' commit.interval.ms). */
const COMMIT_INTERVAL_MS = 100;

/**
 * Runs the topology: one consumer group over the co-partitioned input topics, one task per
 * partition (Kafka Streams' stream task). Its vocabulary:
 *
 * - **task**: a partition's fetched, not yet processed records, a queue per input topic
 *   (PartitionTask). Fetching is decoupled from processing: a fetched batch goes to its task and
 *   kafkajs fetches on; a task whose buffer is full has its topic-partition paused.
 * - **step**: the records a task processes together: decoded, then run through the processors
 *   (the leading topic first), their outputs held in a BufferedContext. Receipts are taken in
 *   event-time order after the conversation events they may refer to (see PartitionTask).
 * - **punctuation**: one punctuator's wall-clock run for one partition (PunctuationScheduler
 *   wakes them, per interval and at aligned times). It holds the lane while it runs; its outputs
 *   and after-send hooks are delivered off the lane, as a step's are: window closes come for
 *   every partition at once, and a lane held for their produce and write-behind round trips
 *   delayed the steps (direct receipts) queued behind them by as much.
 * - **lane**: a partition's queue of steps and punctuations, run one at a time (PartitionLanes),
 *   so a window is never closed while a step adds to it. Lanes of different partitions run
 *   concurrently (their conversations are disjoint).
 * - **delivery**: what follows a processed step, off its lane: run its before-send hooks, send
 *   its outputs (handed to the producer after those of the partition's delivery begun before
 *   it, stamped with that time; produced, acknowledged), run its after-send hooks, then — once
 *   the step before it is committed —
 *   commit its offsets. At most MAX_DELIVERIES_IN_FLIGHT per partition overlap the next steps;
 *   commits stay in step order, each after its own outputs: at-least-once. All partitions share
 *   one producer (OutputSink) and one committer (OffsetCommitter) that merge their requests.
 * - **release**: a step may send what it handed over so far before it ends
 *   (ProcessorContext.release: a direct update need not wait for the step's badge round trips).
 *   The same path as a delivery's send — before-send hooks, then the producer after the
 *   partition's earlier outputs — and the step's delivery waits for it before its after-send
 *   hooks and commit; a failed send fails the delivery (a rewind).
 * - **rewind**: a failed delivery drops the task and seeks its partition back to its last
 *   commit; the records are fetched again and redone (effects are idempotent). After a failed
 *   send the partition's later outputs are held back until the rewind (OutputSink's lanes), so
 *   none arrives before the redo of the step that failed.
 * - **back-off**: a failed step (or a rewind) makes its partition wait before its next step —
 *   doubling from DEFAULT_BACKOFF.initialMs, at once the longest wait if the error says retrying
 *   cannot help (StepBackoff) — and is counted in ticks_step_retries_total. A committed step
 *   resets it.
 * - **generation**: each assignment of partitions; what an earlier generation fetched or
 *   processed is never committed after it, and a partition lost to another member is neither
 *   processed nor punctuated any more.
 * - **lease** (with `leases`): a partition's steps and punctuations run only while this process
 *   holds the partition's lease (PartitionOwnership): a newly assigned partition buffers its
 *   records until the lease is acquired (its previous owner may hold it still). A delivery
 *   checks the lease before its outputs are produced (and again when they go into a produce
 *   request), before each after-send hook and before its commit; a processor checks it before
 *   it writes to a store mid-step (ProcessorContext.assertLeaseHeld). A lease found lost (run
 *   out: renewals stop while the group's heartbeats are stale; or taken) produces nothing more,
 *   runs no hook, commits nothing, drops the partition's task and rewinds it to its last
 *   commit, counted in ticks_lease_lost_total; the partition waits for its lease again. A
 *   stall between a check and the write it guards is still possible: the state flush is fenced
 *   in Redis too (ConversationStates), Kafka outputs are not. A partition taken away
 *   releases its lease once the work it started has settled, and stop() releases them all last.
 */
export class StreamRuntime {
  private consumer: StreamConsumer | undefined;
  private producer: StreamProducer | undefined;
  private sink: OutputSink | undefined;
  private committer: OffsetCommitter | undefined;
  private ownership: PartitionOwnership | undefined;
  private readonly scheduler: PunctuationScheduler;
  private readonly lanes = new PartitionLanes();
  private owned: number[] = [];
  private readonly processorsByTopic = new Map<string, Processor<unknown>>();
  /** Source topics in processor order: the first leads (see PartitionTask). */
  private readonly sourceTopics: string[];
  private readonly taskOptions: PartitionTaskOptions;
  private readonly backoffOptions: BackoffOptions;
  private tasks = new Map<number, PartitionTask>();
  /** Each task's steps in delivery, oldest first. */
  private readonly deliveries = new Map<PartitionTask, Array<Promise<void>>>();
  /** Tasks with a step queued on their lane. */
  private readonly stepQueued = new Set<PartitionTask>();
  /**
   * Punctuations queued, running or in delivery, by punctuator and partition: one at a time each.
   */
  private readonly punctuationQueued = new Set<string>();
  /** Per partition: its punctuations' deliveries under way (off the lane, like a step's). */
  private readonly punctuationDeliveries = new Map<number, Set<Promise<unknown>>>();
  /** Per partition: a timer that queues its task's next step later (an idle wait, a back-off). */
  private readonly wakeUps = new Map<number, { at: number; timer: NodeJS.Timeout }>();
  private readonly backoffs = new Map<number, StepBackoff>();
  /** Tasks dropped by a rewind: their steps still in processing or delivery produce nothing. */
  private readonly rewound = new WeakSet<PartitionTask>();
  /**
   * Per partition: settles once the latest delivery begun has handed its records to the sink
   * (or given up), so the next one hands its own over after it (sendOutputs).
   */
  private readonly handedOver = new Map<number, Promise<void>>();
  private generation = 0;
  private stopping = false;

  constructor(private readonly options: StreamRuntimeOptions) {
    for (const p of options.processors) this.processorsByTopic.set(options.topics[p.source], p);
    this.sourceTopics = [...this.processorsByTopic.keys()];
    this.taskOptions = { ...DEFAULT_TASK_OPTIONS, ...options.task };
    this.backoffOptions = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.scheduler = new PunctuationScheduler((punctuator) => this.queuePunctuations(punctuator));
  }

  get ownedPartitions(): number[] {
    return this.owned;
  }

  /** Where the group consumer is (liveness and readiness). */
  get consumerStatus(): ConsumerStatus {
    if (!this.consumer) return { state: 'stopped' };
    return this.consumer.status?.() ?? { state: 'running' };
  }

  /**
   * Owned partitions whose steps have kept failing (nothing committed since the first failure)
   * for `ms` or longer, with their failures: what readiness reports.
   */
  failingFor(
    ms: number,
    now = Date.now(),
  ): Array<{ partition: number; failingMs: number; failures: number }> {
    const failing = [];
    for (const [partition, backoff] of this.backoffs) {
      const since = backoff.failingSince;
      if (since !== undefined && now - since >= ms && this.owned.includes(partition))
        failing.push({ partition, failingMs: now - since, failures: backoff.consecutiveFailures });
    }
    return failing;
  }

  async start(): Promise<void> {
    const { kafka, groupId, leases, logger } = this.options;
    this.stopping = false;
    this.producer = await kafka.producer();
    if (leases) {
      this.ownership = new PartitionOwnership({
        leases,
        sessionTimeoutMs: this.options.sessionTimeoutMs,
        logger,
        onAcquired: (partition) => this.leaseAcquired(partition),
        onLost: (partition, reason) => this.leaseLost(partition, reason),
      });
      this.ownership.start();
    }
    this.sink = new OutputSink(this.producer, this.options.produceLingerMs ?? 0);
    const consumer = kafka.groupConsumer({
      groupId,
      topics: this.sourceTopics,
      coPartitioned: true,
      fromBeginning: true,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      partitionsConsumedConcurrently: CONCURRENT_PARTITIONS,
      maxBytesPerPartition: FETCH_BYTES_PER_PARTITION,
      onBatch: (batch) => this.onBatch(batch),
      onAssignment: (assignment) => this.onAssignment(assignment),
      onHeartbeat: () => this.ownership?.heartbeat(),
    });
    this.consumer = consumer;
    this.committer = new OffsetCommitter(consumer, COMMIT_INTERVAL_MS);
    try {
      await consumer.start();
    } catch (err) {
      // Not started: stop renewing, and release what a join during the start may have taken.
      await this.ownership?.stop();
      this.ownership = undefined;
      throw err;
    }
    this.scheduler.start(this.options.punctuators);
  }

  /**
   * Stops the punctuators, lets the queued steps and their deliveries finish (and commit), runs
   * the punctuators' shutdown hooks, releases the partition leases, then leaves the group.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.scheduler.stop();
    for (const { timer } of this.wakeUps.values()) clearTimeout(timer);
    this.wakeUps.clear();
    await this.lanes.idle();
    const punctuations = [...this.punctuationDeliveries.values()].flatMap((set) => [...set]);
    await Promise.allSettled([...[...this.deliveries.values()].flat(), ...punctuations]);
    await this.runShutdownHooks();
    for (const task of this.tasks.values()) task.release();
    this.tasks.clear();
    await this.sink?.idle();
    await this.committer?.idle();
    await this.ownership?.stop();
    this.ownership = undefined;
    await this.consumer?.stop();
    await this.producer?.close();
    this.consumer = undefined;
    this.producer = undefined;
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    // A new generation: kafkajs restarts every partition from its committed offset, so what
    // the tasks buffered (never committed) is dropped and will be fetched again.
    this.generation++;
    const partitions = new Set<number>();
    for (const topic of this.sourceTopics)
      for (const p of assignment[topic] ?? []) partitions.add(p);
    const lost = new Set(this.owned.filter((p) => !partitions.has(p)));
    // A lost partition's state is its next owner's. A kept one keeps its state in memory (its
    // lease, so its term, goes on): redone from its commit, its steps find their effects there
    // as a redo after a crash finds them in Redis; a step whose writes the rebalance cut short
    // resets its partition (deliver).
    for (const p of lost) this.resetState(p);
    for (const task of this.tasks.values()) this.drop(task);
    this.tasks = new Map();
    for (const p of lost) {
      const wakeUp = this.wakeUps.get(p);
      if (wakeUp) clearTimeout(wakeUp.timer);
      this.wakeUps.delete(p);
      this.backoffs.delete(p);
    }
    // Positions of a lost partition not sent yet would overwrite its new owner's commits.
    if (lost.size > 0) this.committer?.forget(lost);
    for (const p of lost) this.sink?.resume(p);
    this.owned = [...partitions].sort((a, b) => a - b);
    this.options.logger.info({ partitions: this.owned }, 'partitions assigned');
    // Joining the group is the coordinator's word that this member is alive, like a heartbeat.
    this.ownership?.heartbeat();
    this.ownership?.assign(partitions, (p) => this.settled(p));
  }

  /**
   * Resolves once the work the partition started has settled: what is queued on its lane (a
   * step mid-processing still hands its outputs to delivery), then its tasks' deliveries.
   */
  private settled(partition: number): Promise<unknown> {
    return this.lanes.run(partition, () => Promise.allSettled(this.inFlight(partition)));
  }

  /** The partition's deliveries under way: its steps' and its punctuations'. */
  private inFlight(partition: number): Array<Promise<unknown>> {
    const list: Array<Promise<unknown>> = [...(this.punctuationDeliveries.get(partition) ?? [])];
    for (const [task, deliveries] of this.deliveries)
      if (task.partition === partition) list.push(...deliveries);
    return list;
  }

  /** The partition's lease is acquired: its buffered records may be processed. */
  private leaseAcquired(partition: number): void {
    if (this.stopping) return;
    this.options.logger.debug({ partition }, 'partition lease acquired');
    // Another process may have written the partition's state while this one held no lease.
    this.resetState(partition);
    const task = this.tasks.get(partition);
    if (task) this.queueStep(task);
  }

  /**
   * The partition's lease was found lost while it is assigned here: another process may write
   * its state now (or soon). Nothing of it is processed, hooked or committed until the lease is
   * back; its task is dropped and its partition fetched again from its last commit.
   */
  private leaseLost(partition: number, reason: LeaseLossReason): void {
    const { logger, metrics } = this.options;
    metrics.leaseLost.inc({ partition: String(partition) });
    logger.warn(
      { partition, reason },
      reason === 'taken'
        ? 'partition lease held by another process: the partition stops and waits for its lease again'
        : 'partition lease ran out: the partition stops and waits for its lease again',
    );
    const wakeUp = this.wakeUps.get(partition);
    if (wakeUp) clearTimeout(wakeUp.timer);
    this.wakeUps.delete(partition);
    this.committer?.forget(new Set([partition]));
    this.resetState(partition);
    const task = this.tasks.get(partition);
    if (!task) return;
    const points = task.rewindPoints();
    this.tasks.delete(partition);
    this.drop(task);
    for (const point of points)
      this.consumer?.seek({ topic: point.topic, partition, nextOffset: String(point.nextOffset) });
  }

  /** Whether the partition's steps and punctuations may run (always, without leases). */
  private mayRun(partition: number): boolean {
    return this.ownership?.mayRun(partition) ?? true;
  }

  /** The term of the partition's lease (0 without leases): see PartitionOwnership. */
  private leaseTerm(partition: number): number {
    return this.ownership?.term(partition) ?? 0;
  }

  /**
   * Whether work of the partition started in lease term `term` may run its hooks and commit
   * (always, without leases).
   */
  private leaseHeld(partition: number, term: number): boolean {
    return this.ownership?.holds(partition, term) ?? true;
  }

  /** Buffers the batch and returns: kafkajs fetches on while the task processes. */
  private async onBatch(batch: InboundBatch): Promise<void> {
    if (this.stopping || batch.records.length === 0) return;
    // Not ours (any more), or fetched before a seek (a rewind): the owner, or the fetch from
    // the seek position, brings these records again.
    if (!this.owned.includes(batch.partition) || batch.isStale()) return;
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
    this.countBuffered();
    this.queueStep(task);
  }

  /** Queues the task's next step on its partition's lane, unless one is queued already. */
  private queueStep(task: PartitionTask): void {
    if (this.stepQueued.has(task)) return;
    this.stepQueued.add(task);
    const waited = this.options.metrics.stepLaneWait.startTimer();
    this.lanes
      .run(task.partition, () => {
        this.stepQueued.delete(task);
        waited();
        return this.runStep(task);
      })
      .catch((err: unknown) =>
        this.options.logger.error({ err, partition: task.partition }, 'partition step failed'),
      );
  }

  private countBuffered(): void {
    let n = 0;
    for (const task of this.tasks.values()) n += task.buffered;
    this.options.metrics.bufferedRecords.set(n);
  }

  private isCurrent(task: PartitionTask): boolean {
    return !this.stopping && this.tasks.get(task.partition) === task;
  }

  /**
   * Runs the next step the task can take and hands it to delivery, then yields the lane (a
   * punctuation queued meanwhile runs before the following step) and queues the next step. A
   * step that fails is tried again, from the buffered records, after its partition's back-off.
   */
  private async runStep(task: PartitionTask): Promise<void> {
    if (!this.isCurrent(task)) return;
    // Waiting for its lease: leaseAcquired queues the step.
    if (!this.mayRun(task.partition)) return;
    const now = Date.now();
    const backoff = this.backoffs.get(task.partition)?.waitFrom(now) ?? 0;
    if (backoff > 0) return this.wakeLater(task.partition, backoff);
    const step = task.nextStep(now);
    if (!step) {
      if (task.waiting) this.wakeLater(task.partition, this.taskOptions.maxIdleMs);
      return;
    }
    const term = this.leaseTerm(task.partition);
    let context: BufferedContext;
    try {
      context = await this.processStep(task, step, term);
    } catch (err) {
      // A lease found lost mid-step (assertLeaseHeld): leaseLost dropped the task already.
      if (err instanceof PartitionLeaseLostError) return;
      this.stepFailed(task, step, err);
      return;
    }
    task.markProcessed(step);
    this.countBuffered();
    let deliveries = this.deliveries.get(task);
    if (!deliveries) this.deliveries.set(task, (deliveries = []));
    const delivery = this.deliver(task, step, context, term, deliveries[deliveries.length - 1]);
    deliveries.push(delivery);
    const list = deliveries;
    delivery
      .catch(() => undefined) // logged by rewind()
      .finally(() => list.splice(list.indexOf(delivery), 1));
    if (deliveries.length >= MAX_DELIVERIES_IN_FLIGHT) await deliveries[0]!.catch(() => undefined);
    this.queueStep(task);
  }

  /** Decodes and runs the processors over a step; its outputs wait in the returned context. */
  private async processStep(
    task: PartitionTask,
    step: Step,
    term: number,
  ): Promise<BufferedContext> {
    const context = this.newContext(task.partition, term, task);
    for (let i = 0; i < step.records.length; i++) {
      const records = step.records[i]!;
      if (records.length === 0) continue;
      const processor = this.processorsByTopic.get(task.topics[i]!)!;
      const decoded = await this.decode(records, processor, context);
      if (decoded.length > 0) await processor.process(decoded, context);
    }
    await context.settleWork();
    return context;
  }

  private stepFailed(task: PartitionTask, step: Step, err: unknown): void {
    const { partition } = task;
    this.resetState(partition); // the step may have changed part of the state before it failed
    const { waitMs, retriable, backoff } = this.countFailure(partition, err);
    const fields = {
      err,
      partition,
      records: stepRange(task, step),
      retriable,
      failures: backoff.consecutiveFailures,
      retryInMs: waitMs,
    };
    if (retriable && !backoff.atLongestWait)
      this.options.logger.warn(fields, 'step failed; tried again after a back-off');
    else
      this.options.logger.error(
        fields,
        retriable
          ? 'step keeps failing; tried again at the longest back-off'
          : 'step failed with an error retrying cannot fix; tried again at the longest back-off',
      );
    this.wakeLater(partition, waitMs);
  }

  private countFailure(
    partition: number,
    err: unknown,
  ): { waitMs: number; retriable: boolean; backoff: StepBackoff } {
    let backoff = this.backoffs.get(partition);
    if (!backoff) this.backoffs.set(partition, (backoff = new StepBackoff(this.backoffOptions)));
    const retriable = isRetriable(err);
    const waitMs = backoff.failed(retriable, Date.now());
    this.options.metrics.stepRetries.inc({
      partition: String(partition),
      retriable: String(retriable),
    });
    return { waitMs, retriable, backoff };
  }

  /** Queues the partition's next step in `ms`, unless a wake-up is due sooner already. */
  private wakeLater(partition: number, ms: number): void {
    const at = Date.now() + ms;
    const known = this.wakeUps.get(partition);
    if (known && known.at <= at) return;
    if (known) clearTimeout(known.timer);
    const timer = setTimeout(() => {
      this.wakeUps.delete(partition);
      const task = this.tasks.get(partition);
      if (task) this.queueStep(task);
    }, ms);
    this.wakeUps.set(partition, { at, timer });
  }

  /**
   * A processed step's delivery: send its outputs, run its after-send hooks, then — once the
   * step before it is committed — commit it. A failure rewinds the partition to its last
   * commit: the buffered steps after this one are dropped and fetched again. The partition's
   * lease is checked before the hooks and before the commit: lost, neither runs (leaseLost
   * dropped the task when the loss was found).
   */
  private async deliver(
    task: PartitionTask,
    step: Step,
    context: BufferedContext,
    term: number,
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
    const { onDeliveryStage } = this.options;
    try {
      const produced = onDeliveryStage && (() => onDeliveryStage('produced', task.partition));
      if (!(await this.sendOutputs(context, term, produced, task)))
        throw new PartitionLeaseLostError(task.partition);
      onDeliveryStage?.('flushed', task.partition);
      await previous;
    } catch (err) {
      if (task.generation !== this.generation) {
        // Failed because of the rebalance: its state writes may not have landed, so what memory
        // holds of the partition may be ahead of Redis. The redo starts from Redis.
        this.resetState(task.partition);
        return;
      }
      if (err instanceof PartitionLeaseLostError) throw err; // the task is dropped already
      this.rewind(task, err);
      throw err;
    }
    if (task.generation !== this.generation) return; // a rebalance: the partition is re-read
    if (!this.leaseHeld(task.partition, term)) throw new PartitionLeaseLostError(task.partition);
    // Handed over in step order; the committer sends them together, at most every
    // COMMIT_INTERVAL_MS. The next step's delivery need not wait for the request.
    this.committer!.commit(positions).then(
      () => this.stepCommitted(task, step, positions, stopTimer),
      (err: unknown) => {
        if (task.generation === this.generation) this.rewind(task, err);
      },
    );
  }

  private stepCommitted(
    task: PartitionTask,
    step: Step,
    positions: CommitPosition[],
    stopTimer: () => number,
  ): void {
    if (!this.owned.includes(task.partition)) return; // lost meanwhile: its position was dropped
    const { metrics } = this.options;
    this.backoffs.get(task.partition)?.succeeded();
    for (const p of positions) task.markCommitted(p.topic, Number(p.nextOffset));
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

  /**
   * Forgets a task: resumes what it paused; its steps in delivery finish without committing.
   * Its partition's outputs, held back after a failed send (OutputSink), may go again: what
   * follows is the redo, in order.
   */
  private drop(task: PartitionTask): void {
    task.release();
    this.sink?.resume(task.partition);
    const deliveries = this.deliveries.get(task);
    if (deliveries)
      void Promise.allSettled(deliveries).then(() => {
        if (this.deliveries.get(task) === deliveries) this.deliveries.delete(task);
      });
  }

  /** Resets the partition's state stores once its deliveries in flight are over. */
  private resetState(partition: number): void {
    const stores = this.options.stateStores ?? [];
    if (stores.length === 0) return;
    // The steps' deliveries only: a punctuation's hooks read the stores (the window index),
    // which wait for this, so waiting for them would wait for itself. Their state writes are
    // ordered by the write-behind chain, and their index writes update memory as they land.
    const steps: Array<Promise<void>> = [];
    for (const [task, deliveries] of this.deliveries)
      if (task.partition === partition) steps.push(...deliveries);
    const settled = Promise.allSettled(steps);
    for (const store of stores) store.resetPartition(partition, settled);
  }

  /** Drops a task whose delivery failed and fetches its partition again from its last commit. */
  private rewind(task: PartitionTask, err: unknown): void {
    if (this.tasks.get(task.partition) !== task) return;
    const { waitMs, retriable } = this.countFailure(task.partition, err);
    const points = task.rewindPoints();
    this.resetState(task.partition);
    this.options.logger.error(
      { err, partition: task.partition, retriable, retryInMs: waitMs, from: points },
      'producing or committing a step failed; the partition is fetched again from its last commit',
    );
    this.tasks.delete(task.partition);
    this.rewound.add(task);
    this.drop(task);
    for (const point of points)
      this.consumer?.seek({
        topic: point.topic,
        partition: task.partition,
        nextOffset: String(point.nextOffset),
      });
  }

  private async decode(
    records: InboundRecord[],
    processor: Processor<unknown>,
    context: BufferedContext,
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

  /**
   * A punctuator's wake-up: one punctuation per owned partition, on that partition's lane; its
   * delivery follows off the lane (the next step need not wait for its round trips). Its outputs
   * are handed to the producer before the lane is released, so they go out ahead of the next
   * step's, and its state writes are ordered with the steps' by the write-behind chain.
   */
  private queuePunctuations(punctuator: Punctuator): void {
    if (this.stopping) return;
    const { metrics } = this.options;
    for (const partition of this.owned) {
      const key = `${punctuator.name}\u0000${partition}`;
      if (this.punctuationQueued.has(key)) continue;
      this.punctuationQueued.add(key);
      const generation = this.generation;
      void this.lanes
        .run(partition, async () => {
          if (this.stopping || generation !== this.generation) return;
          if (!this.mayRun(partition)) return;
          const term = this.leaseTerm(partition);
          const context = this.newContext(partition, term);
          const timer = metrics.punctuationDuration.startTimer({ punctuator: punctuator.name });
          await punctuator.punctuate([partition], context);
          await context.settleWork();
          timer();
          // Not awaited: the lane moves on. Wrapped, or the lane would wait for it.
          return { delivery: this.trackPunctuation(partition, this.sendOutputs(context, term)) };
        })
        .then((punctuated) => punctuated?.delivery)
        .catch((err: unknown) => {
          this.resetState(partition); // it may have changed state it did not deliver
          if (err instanceof PartitionLeaseLostError) return; // logged by leaseLost
          // Its failed send holds the partition's later outputs back: what followed it on the
          // lane is redone from the last commit (a rewind resumes the lane); with no task (an
          // idle partition) nothing followed, and the lane goes again for the next punctuation.
          if (this.sink?.isHeldBack(partition)) {
            const task = this.tasks.get(partition);
            if (task) this.rewind(task, err);
            else this.sink.resume(partition);
          }
          this.options.logger.error(
            { err, punctuator: punctuator.name, partition },
            'punctuator failed; retried next tick',
          );
        })
        .finally(() => this.punctuationQueued.delete(key));
    }
  }

  /** Counts a punctuation's delivery as in flight for its partition until it settles. */
  private trackPunctuation<T>(partition: number, delivery: Promise<T>): Promise<T> {
    let set = this.punctuationDeliveries.get(partition);
    if (!set) this.punctuationDeliveries.set(partition, (set = new Set()));
    const list = set;
    list.add(delivery);
    void delivery
      .catch(() => undefined)
      .finally(() => {
        list.delete(delivery);
        if (list.size === 0 && this.punctuationDeliveries.get(partition) === list)
          this.punctuationDeliveries.delete(partition);
      });
    return delivery;
  }

  /** On stop, once the lanes are idle: each punctuator's shutdown hook, per owned partition. */
  private async runShutdownHooks(): Promise<void> {
    if (!this.producer) return;
    for (const punctuator of this.options.punctuators) {
      const beforeStop = punctuator.beforeStop?.bind(punctuator);
      if (!beforeStop) continue;
      await Promise.all(
        this.owned.map(async (partition) => {
          if (!this.mayRun(partition)) return; // not ours to finish: the lease holder does
          const term = this.leaseTerm(partition);
          const context = this.newContext(partition, term);
          try {
            await beforeStop([partition], context);
            await context.settleWork();
            await this.sendOutputs(context, term);
          } catch (err) {
            this.options.logger.error(
              { err, punctuator: punctuator.name, partition },
              'shutdown hook failed; the next owner finishes it',
            );
          }
        }),
      );
    }
  }

  /** A context for work of the partition started in lease term `term`; a step's (`task`) may release outputs. */
  private newContext(partition: number, term: number, task?: PartitionTask): BufferedContext {
    return new BufferedContext(
      partition,
      this.options.metrics,
      this.options.logger,
      () => this.leaseHeld(partition, term),
      this.tasks.get(partition)?.timeAt(Date.now()) ?? Date.now(),
      task &&
        ((context, outputs) => this.produce(context, outputs, this.heldFor(partition, term, task))),
    );
  }

  /**
   * Produces a context's outputs (resolves once acknowledged), tells `produced`, then runs its
   * after-send hooks in order — as long as the partition's lease has not been lost since lease
   * term `term`, in which the context's work started. It is asked before the outputs are
   * produced, again when they go into a produce request (they may wait for one in flight), and
   * before each hook: the process may have stalled (GC, SIGSTOP) past its lease at any await.
   * Lost, nothing more is produced or run, and it resolves false; so too for a step of a `task`
   * rewound meanwhile: its redo produces the outputs again, in order.
   * The outputs keep their partition's order across a failed send: a later one is refused until
   * the partition was rewound (OutputSink's lanes).
   */
  private async sendOutputs(
    context: BufferedContext,
    term: number,
    produced?: () => void,
    task?: PartitionTask,
  ): Promise<boolean> {
    const { partition } = context;
    const held = this.heldFor(partition, term, task);
    const rest = this.produce(context, context.pendingOutputs(), held);
    rest.catch(() => undefined); // awaited below, unless a released send was withheld
    // Released ones first: they were handed to the sink before the rest.
    for (const sent of [...context.released, rest]) if (!(await sent)) return false;
    for (const acknowledged of context.acknowledgedHooks) acknowledged();
    produced?.();
    for (const hook of context.afterSendHooks) {
      if (!held()) return false;
      await hook();
    }
    return true;
  }

  /** Whether work of the partition begun in lease term `term` (of `task`) may still go on. */
  private heldFor(partition: number, term: number, task?: PartitionTask): () => boolean {
    return () => this.leaseHeld(partition, term) && !(task && this.rewound.has(task));
  }

  /**
   * Produces outputs of a context — all of them at its delivery, or those it released before
   * (BufferedContext.release) — after its before-send hooks and after the partition's outputs
   * handed over before; resolves true once acknowledged, false if `held` says no (before, or as
   * they go into a request).
   */
  private async produce(
    context: BufferedContext,
    outputs: PendingOutput[],
    held: () => boolean,
  ): Promise<boolean> {
    if (outputs.length === 0) return true;
    const { partition } = context;
    if (!held()) return false;
    // Called here, before any await: a later step's delivery starts after this one's, so
    // what the hooks send reaches its server in step order. The records wait for them all.
    const before = Promise.all(context.beforeSendHooks.map((hook) => hook()));
    before.catch(() => undefined); // awaited below, unless encoding throws first
    // And they go to the sink after the records of the partition's delivery begun before
    // this one, whose hooks may take longer (or which has some where this one has none): the
    // later versions of a conversation would otherwise be produced first, and a client that
    // keeps the highest version would drop the earlier update (tests/kafka-cluster (c)).
    const earlier = this.handedOver.get(partition);
    let handOver!: () => void;
    const mine = new Promise<void>((resolve) => (handOver = resolve));
    this.handedOver.set(partition, mine);
    void mine.then(() => {
      if (this.handedOver.get(partition) === mine) this.handedOver.delete(partition);
    });
    try {
      const { codec, topics } = this.options;
      const records: OutboundRecord[] = outputs.map((o) => ({
        topic: topics[o.role],
        key: o.key,
        value: codec.encodeNow(o.role, o.value as never),
        headers: o.headers,
        partition: o.partition,
      }));
      await before;
      await earlier;
      // Stamped when handed to the producer, as the Java client stamps a record at send():
      // kafkajs would stamp it when it builds each request, so a produce retried after a stall
      // (GC, SIGSTOP) would carry the time of the retry, not of the work that made it.
      const handedAt = Date.now();
      for (const r of records) r.timestamp = handedAt;
      const sent = this.sink!.send(records, held, partition); // queued in the sink: in order
      handOver();
      return await sent;
    } finally {
      handOver();
    }
  }
}

/** The offsets a step covers, per topic, for logs. */
function stepRange(
  task: PartitionTask,
  step: Step,
): Array<{ topic: string; from: string; to: string }> {
  const ranges: Array<{ topic: string; from: string; to: string }> = [];
  step.records.forEach((records, i) => {
    if (records.length > 0)
      ranges.push({
        topic: task.topics[i]!,
        from: records[0]!.offset,
        to: records[records.length - 1]!.offset,
      });
  });
  return ranges;
}
