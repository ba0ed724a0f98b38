import type { DeadLetterReason, StateChange } from '../../schemas/types';
import type { InboundRecord } from '../kafka/types';
import type { TopicRole } from '../topics';

/** An input record and its decoded value. */
export interface Decoded<T> {
  record: InboundRecord;
  value: T;
}

/**
 * The processor's only door out, as in Kafka Streams: forward to sinks, the changelog, the dead
 * letters, after-send hooks. A context serves one step or one punctuation of one partition, and
 * what is handed to it is produced before that step's offsets are committed.
 */
export interface ProcessorContext {
  /**
   * The input partition the step or punctuation belongs to; the inputs are co-partitioned, so it
   * is the same number on every input topic (and on the state_changes changelog).
   */
  readonly partition: number;
  /** Wall-clock time (ms) at which the step or punctuation began. */
  readonly now: number;
  /**
   * The partition's time (ms) when the step or punctuation began: the wall clock while the
   * partition is caught up; while it works through a backlog, how far in event time every one
   * of its inputs has been taken (a watermark; runtime/internals/partition-task.ts, timeAt).
   * What event-time windows close by.
   */
  readonly streamTime: number;
  /** Queue a record for a sink topic. */
  send(role: TopicRole, key: string, value: unknown): void;
  /**
   * Log an applied change to the state_changes changelog, in this context's partition; a step's
   * changes go out together (see internals/changelog.ts).
   */
  logChange(change: StateChange): void;
  /** Queue the original record for the dead-letter topic with its reason. */
  deadLetter(record: InboundRecord, reason: DeadLetterReason, detail: string): void;
  /**
   * Runs before this context's records are produced (only if it has any); a failure fails the
   * step's delivery (its partition is rewound), and nothing is produced. The hooks of a context
   * are called at once, before the next context of the partition calls its own, so that what
   * they send on one connection reaches the server in step order; the records wait for all of
   * them. For what must be durable before anybody can hear of it (stores/state/told-ahead.ts).
   */
  beforeSend(fn: () => Promise<void>): void;
  /** Runs after this context's records were produced (and before the commit). */
  afterSend(fn: () => Promise<void>): void;
  /**
   * Called once this context's records are acknowledged by Kafka — whatever happens after (a
   * lease found lost stops the after-send hooks, not this): for what the process must remember
   * it told (stores/state/told-marks.ts). Synchronous, in memory only.
   */
  afterAcknowledged(fn: () => void): void;
  /**
   * Work the processor started and goes on without awaiting (writes nothing after it in the
   * step depends on): the step is over, and its delivery starts, only once it settled; its
   * failure fails the step. Outputs it hands over when it ends belong to the step.
   */
  waitFor(work: Promise<unknown>): void;
  /**
   * Sends the records handed over so far now, not at the step's end: what a step has decided
   * need not wait for the work it goes on with (a direct update for its badge round trips). The
   * before-send hooks run first (what they write ahead covers these records), and the records go
   * after the partition's earlier outputs. The step's delivery waits for them before its
   * after-send hooks and commit; a failed send fails it (the partition is rewound). Records
   * handed over after the call go at the end. A punctuation's records always go at its end.
   */
  release(): void;
  /**
   * Throws if this process lost the partition's lease since the step or punctuation began
   * (another process may own its state now): call it right before writing to a store during
   * the step, as the writes after-send hooks make are checked by the runtime. The step is
   * dropped and taken up again, from its last commit, once the lease is back.
   */
  assertLeaseHeld(): void;
}

/** Processes the records of one source topic, a step at a time. */
export interface Processor<T> {
  readonly name: string;
  readonly source: TopicRole;
  process(records: Decoded<T>[], context: ProcessorContext): Promise<void>;
}

/**
 * Wall-clock work (closing windows, expiring held receipts). The runtime runs it for each
 * partition it owns, in that partition's lane, so it never overlaps the partition's steps;
 * `partitions` is always `[context.partition]`.
 */
export interface Punctuator {
  readonly name: string;
  readonly intervalMs: number;
  /**
   * Also run right at wall-clock times k × everyMs + offsetMs (window ends), so work that is due
   * then does not wait up to an interval.
   */
  readonly aligned?: { everyMs: number; offsetMs: number };
  punctuate(partitions: number[], context: ProcessorContext): Promise<void>;
  /**
   * On shutdown, for each owned partition: finish what must not wait for the partition's next
   * owner (e.g. close open windows now).
   */
  beforeStop?(partitions: number[], context: ProcessorContext): Promise<void>;
}

/**
 * State a processor keeps in memory for the partitions it owns (Kafka Streams' state store, here
 * written behind to Redis in each step's delivery). The runtime resets a partition's state when
 * what is in memory may be ahead of what was delivered — a failed step or punctuation, a rewind,
 * a partition taken away, a step a rebalance cut short — so the records redone from the last
 * commit start again from the stored state. A partition a rebalance leaves in place keeps it.
 * `settled` resolves once the partition's deliveries in flight at the reset are over: their
 * writes land before anything is reloaded.
 */
export interface PartitionStateStore {
  readonly name: string;
  resetPartition(partition: number, settled: Promise<unknown>): void;
}
