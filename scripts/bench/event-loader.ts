import type { AvroCodec } from '../../schemas/avro-codec';
import type { OutboundRecord, RecordProducer } from '../../runtime/kafka/types';
import type { TopicNames } from '../../runtime/topics';
import type { TrafficEvent } from './chat-traffic';

/**
 * Encodes generated events (Avro, Confluent wire format) and produces them in large batches,
 * one send in flight while the next batch is encoded. Sends are sequential, so each partition
 * receives its records in generation order.
 */
export class EventLoader {
  private batch: OutboundRecord[] = [];
  private inFlight: Promise<void> = Promise.resolve();
  produced = 0;

  constructor(
    private readonly producer: RecordProducer,
    private readonly codec: AvroCodec,
    private readonly topics: TopicNames,
    private readonly batchSize = 5_000,
  ) {}

  /** Queues one event; resolves once it was handed to a send (not necessarily acknowledged). */
  async add(event: TrafficEvent): Promise<void> {
    this.batch.push({
      topic: this.topics[event.role],
      key: event.key,
      value: this.codec.encodeNow(event.role, event.value as never),
      // Event time, as an upstream producer stamps it when the event happens.
      timestamp: eventTime(event),
    });
    if (this.batch.length >= this.batchSize) await this.send();
  }

  /** Sends what is queued and waits for every send to be acknowledged. */
  async flush(): Promise<void> {
    await this.send();
    await this.inFlight;
  }

  private async send(): Promise<void> {
    const records = this.batch;
    this.batch = [];
    await this.inFlight;
    if (records.length === 0) return;
    this.inFlight = this.producer.send(records).then(() => {
      this.produced += records.length;
    });
  }
}

function eventTime(event: TrafficEvent): number {
  return event.role === 'userSettings' ? event.value.updated_at : event.value.occurred_at;
}
