import type { InboundBatch, InboundRecord } from '../kafka/types';

export interface PartitionTaskOptions {
  /** Records taken from a queue in one step, at most. */
  maxStepRecords: number;
  /** Records a queue may hold before its topic-partition is paused (and, without pause, taken). */
  maxBufferedRecords: number;
  /** How long a record may wait for a leading topic that shows no sign of more data. */
  maxIdleMs: number;
  /** How long it may wait for one known to have more on the broker (not fetched yet). */
  maxLeadWaitMs: number;
}

/** One input topic's records of the partition, fetched and not yet processed. */
interface TaskQueue {
  topic: string;
  records: InboundRecord[];
  /** High watermark reported with the latest batch; undefined before the first batch. */
  end: number | undefined;
  /** Offset after the last record fetched. */
  fetchedUpTo: number;
  /** Newest timestamp of the records steps took from it (0 before the first). */
  takenUpTo: number;
  /** Where the partition is known to be committed (or first fetched from): a rewind point. */
  committedUpTo: number | undefined;
  /** The latest batch's pause(), and the resume function while paused. */
  pause: (() => () => void) | undefined;
  resume: (() => void) | undefined;
}

/** What one step processes: the first records of each queue (index i: the i-th topic). */
export interface Step {
  records: InboundRecord[][];
}

/**
 * The co-partitioned input of one partition (a Kafka Streams task): a queue per source topic and
 * the rule that picks what to process next. The first topic leads (conversation events): its
 * records are taken as they come. A record of another topic (a receipt) waits until the leading
 * topic has been processed up to its timestamp, or is known to have nothing more on the broker,
 * or `maxIdleMs` passed — so a backlog is applied in event-time order across topics, as it
 * happened, and a receipt is not held for want of a message that is merely not fetched yet.
 * Within a topic the partition's order is never changed.
 */
export class PartitionTask {
  private readonly queues: TaskQueue[];
  private waitingSince: number | undefined;
  private readonly createdAt = Date.now();
  /** When a batch last brought records (ms). */
  private lastFetchedAt: number | undefined;

  constructor(
    readonly partition: number,
    readonly generation: number,
    topics: string[],
    private readonly options: PartitionTaskOptions,
  ) {
    this.queues = topics.map((topic) => ({
      topic,
      records: [],
      end: undefined,
      fetchedUpTo: 0,
      takenUpTo: 0,
      committedUpTo: undefined,
      pause: undefined,
      resume: undefined,
    }));
  }

  get topics(): string[] {
    return this.queues.map((q) => q.topic);
  }

  /** Records buffered over all queues. */
  get buffered(): number {
    let n = 0;
    for (const q of this.queues) n += q.records.length;
    return n;
  }

  /** Whether records are waiting (for the leading topic or the idle time). */
  get waiting(): boolean {
    return this.waitingSince !== undefined;
  }

  /**
   * The partition's time at `now`: how far in event time every one of its inputs has been
   * processed (the least over its topics, as a watermark). A topic with records buffered is
   * there up to just before the first of them; one with nothing buffered but more on the broker
   * (and batches still coming) up to the newest record taken from it; one caught up does not
   * hold the time back. Never ahead of the clock, so a caught-up partition's time is the clock;
   * so too when nothing came for maxIdleMs although a high watermark is ahead (it may stay past
   * the last record). Group windows close by it: a backlog is grouped as it happened, not as
   * fast as it is read, and a window waits for the receipts still queued behind the messages.
   */
  timeAt(now: number): number {
    const fetching =
      this.lastFetchedAt !== undefined && now - this.lastFetchedAt < this.options.maxIdleMs;
    let time = now;
    for (const q of this.queues) {
      const first = q.records[0];
      if (first) time = Math.min(time, first.timestamp - 1);
      else if (fetching && q.end !== undefined && q.fetchedUpTo < q.end)
        time = Math.min(time, q.takenUpTo);
    }
    return time;
  }

  /** High watermark of a topic-partition as of its latest batch. */
  endOf(topic: string): number | undefined {
    return this.queue(topic).end;
  }

  add(batch: InboundBatch, now: number = Date.now()): void {
    const q = this.queue(batch.topic);
    const first = batch.records[0];
    if (first && q.committedUpTo === undefined) q.committedUpTo = Number(first.offset);
    for (const r of batch.records) q.records.push(r);
    if (batch.records.length > 0) this.lastFetchedAt = now;
    const last = batch.records[batch.records.length - 1];
    if (last) q.fetchedUpTo = Math.max(q.fetchedUpTo, Number(last.offset) + 1);
    q.end = Number(batch.highWatermark);
    q.pause = batch.pause;
    if (!q.resume && q.pause && q.records.length >= this.options.maxBufferedRecords)
      q.resume = q.pause();
  }

  /** The records to process next, or null when nothing may go yet. */
  nextStep(now: number): Step | null {
    const { maxStepRecords, maxBufferedRecords, maxIdleMs, maxLeadWaitMs } = this.options;
    const [lead, ...others] = this.queues;
    const leadTake = Math.min(lead!.records.length, maxStepRecords);
    // How far the leading topic will have been taken (its takenUpTo once this step is).
    let frontier = lead!.takenUpTo;
    for (let i = 0; i < leadTake; i++) frontier = Math.max(frontier, lead!.records[i]!.timestamp);
    const leadHasMore = lead!.end !== undefined && lead!.fetchedUpTo < lead!.end;
    const leadCaughtUp =
      leadTake === lead!.records.length &&
      !leadHasMore &&
      (lead!.end !== undefined || now - this.createdAt >= maxIdleMs);
    // Waiting for records already on the broker is cheap (the next fetch brings them); waiting
    // for records that may never come is bounded by maxIdleMs.
    const limit = leadHasMore ? maxLeadWaitMs : maxIdleMs;
    const idle = this.waitingSince !== undefined && now - this.waitingSince >= limit;

    const records: InboundRecord[][] = [lead!.records.slice(0, leadTake)];
    let taken = leadTake;
    let waiting = false;
    for (const q of others) {
      const most = Math.min(q.records.length, maxStepRecords);
      let n = 0;
      if (leadCaughtUp || idle || (!q.resume && q.records.length >= maxBufferedRecords)) n = most;
      // Strictly before the frontier: leading records of the same millisecond may still follow.
      else while (n < most && q.records[n]!.timestamp < frontier) n++;
      records.push(q.records.slice(0, n));
      taken += n;
      if (n < most) waiting = true;
    }
    // The idle clock runs while records wait and the leading topic makes no progress.
    if (!waiting) this.waitingSince = undefined;
    else if (leadTake > 0 || this.waitingSince === undefined) this.waitingSince = now;
    if (taken === 0) return null;
    records.forEach((list, i) => {
      const q = this.queues[i]!;
      for (const r of list) q.takenUpTo = Math.max(q.takenUpTo, r.timestamp);
    });
    return { records };
  }

  /** Drops what a step processed; resumes a paused topic-partition once half its buffer is gone. */
  markProcessed(step: Step): void {
    step.records.forEach((taken, i) => {
      const q = this.queues[i]!;
      q.records.splice(0, taken.length);
      if (q.resume && q.records.length < this.options.maxBufferedRecords / 2) {
        q.resume();
        q.resume = undefined;
      }
    });
  }

  /** A step's positions were committed: a rewind would begin there. */
  markCommitted(topic: string, nextOffset: number): void {
    const q = this.queue(topic);
    q.committedUpTo = Math.max(q.committedUpTo ?? 0, nextOffset);
  }

  /** Where each topic-partition must be fetched again from to redo what is not committed. */
  rewindPoints(): Array<{ topic: string; nextOffset: number }> {
    return this.queues
      .filter((q) => q.committedUpTo !== undefined)
      .map((q) => ({ topic: q.topic, nextOffset: q.committedUpTo! }));
  }

  /** Resumes whatever this task paused (it is being dropped: a rebalance, a stop). */
  release(): void {
    for (const q of this.queues) {
      q.resume?.();
      q.resume = undefined;
      q.records = [];
    }
  }

  private queue(topic: string): TaskQueue {
    const q = this.queues.find((x) => x.topic === topic);
    if (!q) throw new Error(`partition task ${this.partition} has no queue for ${topic}`);
    return q;
  }
}
