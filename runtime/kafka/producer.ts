import { CompressionTypes, type Kafka, type Producer } from 'kafkajs';
import { slicesOf } from '../slices';
import { KafkaUnavailableError } from './errors';
import { JavaCompatiblePartitioner } from './java-partitioner';
import type { OutboundRecord, RecordProducer } from './types';

/**
 * Bytes of records per produce request. Kafka refuses a partition's record batch above
 * message.max.bytes (1 MiB by default) with a non-retriable error, so a send of many records is
 * split into requests below that, whatever their partitions.
 */
const MAX_REQUEST_BYTES = 900 * 1024;
/** Per-record framing (offsets, lengths, timestamp deltas), a generous estimate. */
const RECORD_OVERHEAD_BYTES = 64;
/**
 * Records per produce request. kafkajs groups a request's records by partition with an array
 * copy per record (quadratic in records per partition): 20k records cost more to group than to
 * encode and send. Requests of 500 keep that negligible and cost one round trip each.
 */
const MAX_REQUEST_RECORDS = 500;

function sizeOf(r: OutboundRecord): number {
  let size = RECORD_OVERHEAD_BYTES + (r.value?.length ?? 0);
  size += typeof r.key === 'string' ? Buffer.byteLength(r.key) : (r.key?.length ?? 0);
  if (r.headers)
    for (const [k, v] of Object.entries(r.headers)) size += k.length + Buffer.byteLength(v) + 8;
  return size;
}

function newProducer(kafka: Kafka): Producer {
  return kafka.producer({
    // Idempotent, so the retries below never duplicate; retried until Kafka answers rather
    // than dropping a record.
    idempotent: true,
    maxInFlightRequests: 5,
    allowAutoTopicCreation: false,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 5000 },
    // Murmur2 on the key, as the Java client: producers in any language agree on the partition
    // of a conversation, which co-partitioning relies on.
    createPartitioner: JavaCompatiblePartitioner,
  });
}

/** A RecordProducer on kafkajs' idempotent producer, replaced by a fresh one after a failed send. */
export class KafkaRecordProducer implements RecordProducer {
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;

  /** Connects a producer; KafkaUnavailableError when Kafka cannot be reached. */
  static async connect(kafka: Kafka, brokers: string[]): Promise<KafkaRecordProducer> {
    const producer = newProducer(kafka);
    try {
      await producer.connect();
    } catch (err) {
      throw new KafkaUnavailableError(brokers, err);
    }
    return new KafkaRecordProducer(producer, () => newProducer(kafka));
  }

  private constructor(
    first: Producer,
    private readonly create: () => Producer,
  ) {
    this.producer = first;
  }

  async send(records: OutboundRecord[]): Promise<void> {
    const requests = slicesOf(records, {
      maxItems: MAX_REQUEST_RECORDS,
      maxWeight: MAX_REQUEST_BYTES,
      weight: sizeOf,
    });
    for (const request of requests) await this.sendChunk(request);
  }

  async close(): Promise<void> {
    const producer = this.producer ?? (await this.connecting?.catch(() => undefined));
    this.producer = undefined;
    await producer?.disconnect();
  }

  private async sendChunk(records: OutboundRecord[]): Promise<void> {
    const producer = await this.current();
    const byTopic = new Map<string, OutboundRecord[]>();
    for (const r of records) {
      const list = byTopic.get(r.topic);
      if (list) list.push(r);
      else byTopic.set(r.topic, [r]);
    }
    try {
      await producer.sendBatch({
        acks: -1,
        compression: CompressionTypes.None,
        topicMessages: [...byTopic].map(([topic, list]) => ({
          topic,
          messages: list.map((r) => ({
            key: r.key,
            value: r.value,
            headers: r.headers,
            timestamp: r.timestamp === undefined ? undefined : String(r.timestamp),
            partition: r.partition,
          })),
        })),
      });
    } catch (err) {
      // kafkajs' idempotent producer has counted the failed records' sequence numbers although
      // the broker wrote nothing; every later send to those partitions would then fail with
      // OUT_OF_ORDER_SEQUENCE_NUMBER. The next send gets a fresh producer (a new producer id).
      if (this.producer === producer) this.producer = undefined;
      void producer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  private async current(): Promise<Producer> {
    if (this.producer) return this.producer;
    this.connecting ??= (async () => {
      const fresh = this.create();
      await fresh.connect();
      this.producer = fresh;
      return fresh;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }
}
