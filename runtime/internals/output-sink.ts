import type { OutboundRecord } from '../kafka/types';
import type { StreamProducer } from './stream-kafka';

interface Waiting {
  records: OutboundRecord[];
  mayGo: (() => boolean) | undefined;
  lane: number | undefined;
  resolve(sent: boolean): void;
  reject(err: unknown): void;
}

/**
 * A send refused because an earlier send of the same lane failed: its records would overtake
 * that one's redo (see OutputSink).
 */
export class LaneHeldBackError extends Error {
  override readonly name = 'LaneHeldBackError';
  /** The lane's redo, once it resumes the lane, sends everything again in order. */
  readonly retriable = true;
  constructor(
    readonly lane: number,
    override readonly cause: unknown,
  ) {
    super(
      `outputs of partition ${lane} held back: an earlier send of the partition failed ` +
        `(${cause instanceof Error ? cause.message : String(cause)}), and these must not arrive ` +
        'before its redo; the partition is redone from its last commit',
    );
  }
}

/**
 * One producer shared by the partition tasks: the records that tasks hand over while a send is
 * in flight, or within `lingerMs` of the first (Kafka's linger.ms), go together in one request,
 * so concurrent steps cost one produce request, not one each: at low load the broker and the
 * client handle far fewer requests for a few milliseconds of latency. One send in flight at a
 * time keeps the idempotent producer's ordering simple. A caller's promise resolves once its
 * records are acknowledged (acks=all).
 *
 * Records wait while a request is in flight, which a stalled process (GC, SIGSTOP) may resume
 * long after: a caller's `mayGo` is asked again right before its records go into a request, and
 * records it refuses are not sent (the promise resolves false).
 *
 * **Lanes keep their order across a failure.** A send may name a lane (the input partition whose
 * steps made the records). When a request fails, its lanes are held back: what they have queued
 * and what they hand over afterwards is refused (LaneHeldBackError) until `resume(lane)`, which
 * the lane's owner calls once it has dropped the work done after the failed send and will redo
 * it in order. Otherwise a later step's outputs (newer versions of a conversation) would be
 * written while the failed step waits for its redo, and the redo's older versions would arrive
 * after them: a client that drops older versions would drop those.
 */
export class OutputSink {
  private queued: Waiting[] = [];
  private sending: Promise<void> | undefined;
  /** Lanes held back, with the failure that held them. */
  private readonly heldBack = new Map<number, unknown>();

  constructor(
    private readonly producer: Pick<StreamProducer, 'send'>,
    private readonly lingerMs = 0,
  ) {}

  /**
   * Resolves true once the records are acknowledged, false if `mayGo` withheld them; rejects
   * when their request failed, or when `lane` is held back (LaneHeldBackError).
   */
  send(records: OutboundRecord[], mayGo?: () => boolean, lane?: number): Promise<boolean> {
    if (records.length === 0) return Promise.resolve(true);
    if (lane !== undefined && this.heldBack.has(lane))
      return Promise.reject(new LaneHeldBackError(lane, this.heldBack.get(lane)));
    return new Promise((resolve, reject) => {
      this.queued.push({ records, mayGo, lane, resolve, reject });
      this.kick();
    });
  }

  /** Whether a failed send holds the lane back (until `resume`). */
  isHeldBack(lane: number): boolean {
    return this.heldBack.has(lane);
  }

  /** Lets a held-back lane send again (its owner redoes what followed the failed send). */
  resume(lane: number): void {
    this.heldBack.delete(lane);
  }

  /** Resolves once everything handed over so far was sent (or failed). */
  async idle(): Promise<void> {
    while (this.sending) await this.sending;
  }

  private kick(): void {
    if (this.sending) return;
    const sending =
      this.lingerMs > 0
        ? new Promise((r) => setTimeout(r, this.lingerMs)).then(() => this.drain())
        : this.drain();
    this.sending = sending.finally(() => {
      this.sending = undefined;
      if (this.queued.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queued.length > 0) {
      const batch: Waiting[] = [];
      for (const w of this.queued) {
        if (w.lane !== undefined && this.heldBack.has(w.lane))
          w.reject(new LaneHeldBackError(w.lane, this.heldBack.get(w.lane)));
        else if (w.mayGo && !w.mayGo()) w.resolve(false);
        else batch.push(w);
      }
      this.queued = [];
      if (batch.length === 0) continue;
      const records = batch.length === 1 ? batch[0]!.records : batch.flatMap((w) => w.records);
      try {
        await this.producer.send(records);
        for (const w of batch) w.resolve(true);
      } catch (err) {
        // Held back before anyone hears of the failure: nothing of these lanes queued now (the
        // next round refuses it) or handed over from now on overtakes the redo.
        for (const w of batch) if (w.lane !== undefined) this.heldBack.set(w.lane, err);
        for (const w of batch) w.reject(err);
      }
    }
  }
}
