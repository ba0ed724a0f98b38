import { KafkaSendTimeoutError } from './errors';
import type { OutboundRecord, RecordProducer } from './types';

interface QueuedSend {
  records: OutboundRecord[];
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Group commit for many small concurrent sends (the query API produces one receipt event per
 * request): a send that comes while `maxInFlight` sends are under way waits, and goes out with
 * every send queued meanwhile in one produce request; an idle producer sends at once, so nothing
 * lingers. Without it each request is a produce request of its own, and the API's POSTs are
 * bounded by the producer's in-flight requests (about 1,000 a second here) rather than by HTTP.
 * A send resolves when its records are acknowledged; a failed produce request fails every send
 * it carried (each caller answers 503: its events are safe to send again).
 *
 * With `timeout`, no send waits longer than its bound counted from its own call, waiting behind
 * a request included (KafkaSendTimeoutError; one still queued then is not sent): the API's
 * promise that a POST never waits longer than TICKS_KAFKA_SEND_TIMEOUT_MS for Kafka holds.
 */
export class CoalescingRecordProducer implements RecordProducer {
  private queue: QueuedSend[] = [];
  private inFlight = 0;
  private idle: Array<() => void> = [];

  constructor(
    private readonly inner: RecordProducer,
    private readonly options: {
      maxInFlight?: number;
      timeout?: { ms: number; brokers: string[] };
    } = {},
  ) {}

  send(records: OutboundRecord[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const send: QueuedSend = { records, resolve, reject };
      const timeout = this.options.timeout;
      if (timeout) {
        const timer = setTimeout(() => {
          const queued = this.queue.indexOf(send);
          if (queued >= 0) this.queue.splice(queued, 1);
          const topics = [...new Set(records.map((r) => r.topic))];
          reject(new KafkaSendTimeoutError(topics, timeout.ms, timeout.brokers));
        }, timeout.ms);
        send.resolve = () => (clearTimeout(timer), resolve());
        send.reject = (err) => (clearTimeout(timer), reject(err));
      }
      this.queue.push(send);
      this.pump();
    });
  }

  /** Waits for the sends already made, then closes the producer under it. */
  async close(): Promise<void> {
    if (this.inFlight > 0 || this.queue.length > 0)
      await new Promise<void>((resolve) => this.idle.push(resolve));
    await this.inner.close();
  }

  private pump(): void {
    while (this.inFlight < (this.options.maxInFlight ?? 1) && this.queue.length > 0) {
      const sends = this.queue;
      this.queue = [];
      this.inFlight++;
      this.inner
        .send(sends.flatMap((s) => s.records))
        .then(
          () => sends.forEach((s) => s.resolve()),
          (err: unknown) => sends.forEach((s) => s.reject(err)),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
          if (this.inFlight === 0 && this.queue.length === 0)
            for (const resolve of this.idle.splice(0)) resolve();
        });
    }
  }
}
