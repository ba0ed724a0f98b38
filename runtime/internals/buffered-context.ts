import type { Logger } from 'pino';
import type { DeadLetterReason, StateChange } from '../../schemas/types';
import { deadLetterRecord } from '../api/dead-letter';
import type { ProcessorContext } from '../api/processor';
import type { InboundRecord } from '../kafka/types';
import type { PipelineMetrics } from '../metrics';
import type { TopicRole } from '../topics';
import { changelogRecords } from '../changelog';
import { PartitionLeaseLostError } from './partition-ownership';

/** A record handed to a context, not yet encoded. */
export interface PendingOutput {
  role: TopicRole;
  key: string | Buffer | null;
  value: unknown;
  headers?: Record<string, string>;
  /** An explicit partition; by default the key's. */
  partition?: number;
}

/**
 * The ProcessorContext of one step or punctuation of one partition: it holds what the processors
 * hand over until the runtime sends it (see StreamRuntime).
 */
export class BufferedContext implements ProcessorContext {
  readonly now = Date.now();
  readonly beforeSendHooks: Array<() => Promise<void>> = [];
  readonly afterSendHooks: Array<() => Promise<void>> = [];
  readonly acknowledgedHooks: Array<() => void> = [];
  private outputs: PendingOutput[] = [];
  /** Sends of outputs released before the end (release): resolved false if withheld. */
  readonly released: Array<Promise<boolean>> = [];
  private readonly work: Array<Promise<unknown>> = [];
  /** Changelog entries, in the order they were applied. */
  private readonly changes: StateChange[] = [];

  constructor(
    readonly partition: number,
    private readonly metrics: PipelineMetrics,
    private readonly logger: Logger,
    /** Whether the lease this context's work started under is still held (see StreamRuntime). */
    private readonly leaseHeld: () => boolean = () => true,
    /** The partition's time (PartitionTask.timeAt): the clock unless it is behind. */
    readonly streamTime: number = Date.now(),
    /** Sends released outputs (a step's context); without it release() keeps them for the end. */
    private readonly releaser?: (
      context: BufferedContext,
      outputs: PendingOutput[],
    ) => Promise<boolean>,
  ) {}

  assertLeaseHeld(): void {
    if (!this.leaseHeld()) throw new PartitionLeaseLostError(this.partition);
  }

  send(role: TopicRole, key: string, value: unknown): void {
    this.outputs.push({ role, key, value });
  }

  logChange(change: StateChange): void {
    this.changes.push(change);
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
      ...deadLetterRecord(record, reason, detail, this.now),
    });
  }

  beforeSend(fn: () => Promise<void>): void {
    this.beforeSendHooks.push(fn);
  }

  afterSend(fn: () => Promise<void>): void {
    this.afterSendHooks.push(fn);
  }

  afterAcknowledged(fn: () => void): void {
    this.acknowledgedHooks.push(fn);
  }

  release(): void {
    if (!this.releaser || this.outputs.length === 0) return;
    const outputs = this.outputs;
    this.outputs = [];
    const sent = this.releaser(this, outputs);
    sent.catch(() => undefined); // awaited by the delivery, unless the step fails before it
    this.released.push(sent);
  }

  waitFor(work: Promise<unknown>): void {
    work.catch(() => undefined); // settled by settleWork(), unless the step failed before it
    this.work.push(work);
  }

  /** Waits for the work the processors started (waitFor); throws its first failure. */
  async settleWork(): Promise<void> {
    while (this.work.length > 0) await Promise.all(this.work.splice(0));
  }

  /**
   * What to produce, in order: the changelog first — one record (a few, if large) to the
   * state_changes partition of the same number as the input — then the rest as handed over.
   */
  pendingOutputs(): PendingOutput[] {
    if (this.changes.length === 0) return this.outputs;
    const changelog = changelogRecords(this.changes).map((slice): PendingOutput => ({
      role: 'stateChanges',
      key: null,
      partition: this.partition,
      value: { changes: slice },
    }));
    return [...changelog, ...this.outputs];
  }
}
