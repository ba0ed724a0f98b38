import type { OutboundRecord } from '../kafka/types';
import type { StreamProducer } from './stream-kafka';

interface Waiting {
  records: OutboundRecord[];
  mayGo: (() => boolean) | undefined;
  resolve(sent: boolean): void;
  reject(err: unknown): void;
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
 */
export class OutputSink {
  private queued: Waiting[] = [];
  private sending: Promise<void> | undefined;

  constructor(
    private readonly producer: Pick<StreamProducer, 'send'>,
    private readonly lingerMs = 0,
  ) {}

  /** Resolves true once the records are acknowledged, false if `mayGo` withheld them. */
  send(records: OutboundRecord[], mayGo?: () => boolean): Promise<boolean> {
    if (records.length === 0) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      this.queued.push({ records, mayGo, resolve, reject });
      this.kick();
    });
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
        if (w.mayGo && !w.mayGo()) w.resolve(false);
        else batch.push(w);
      }
      this.queued = [];
      if (batch.length === 0) continue;
      const records = batch.length === 1 ? batch[0]!.records : batch.flatMap((w) => w.records);
      try {
        await this.producer.send(records);
        for (const w of batch) w.resolve(true);
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
  }
}
