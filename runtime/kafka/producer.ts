import {
  CompressionTypes,
  type ICustomPartitioner,
  type Kafka,
  type Producer,
  type RecordMetadata,
} from 'kafkajs';
import { slicesOf } from '../slices';
import { KafkaSendTimeoutError, KafkaUnavailableError } from './errors';
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

type ProducerBatch = Parameters<Producer['sendBatch']>[0];

/** An attempt reached the send's deadline. */
class AttemptTimeout extends Error {
  override readonly name = 'AttemptTimeout';
}

/**
 * Whether another attempt can help: kafkajs marks errors retriable, and wraps a retriable one
 * its own (short) retries did not get past in KafkaJSNumberOfRetriesExceeded.
 */
function worthRetrying(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'KafkaJSNumberOfRetriesExceeded') return true;
  return (err as { retriable?: unknown }).retriable === true;
}

function sizeOf(r: OutboundRecord): number {
  let size = RECORD_OVERHEAD_BYTES + (r.value?.length ?? 0);
  size += typeof r.key === 'string' ? Buffer.byteLength(r.key) : (r.key?.length ?? 0);
  if (r.headers)
    for (const [k, v] of Object.entries(r.headers)) size += k.length + Buffer.byteLength(v) + 8;
  return size;
}

/**
 * kafkajs' own retries of one attempt, kept short: the attempts are repeated here until the
 * send's deadline, and an attempt abandoned at the deadline (kafkajs cannot cancel one) must
 * end soon after it rather than retry, reconnecting, for a long time. KafkaClient gives its
 * producers' connections (metadata, connecting) the same short retries.
 */
export const PRODUCER_ATTEMPT_RETRY = { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 };
/** How long a producer's first connection may keep failing with retriable errors. */
const START_CONNECT_MS = 30_000;

/** The wait after the n-th consecutive failed attempt (from 0): 100 ms doubling, up to 1 s. */
function attemptWait(failures: number): number {
  return Math.min(1000, 100 * 2 ** failures);
}

/** The partition kafkajs' partitioner chose for each message object of a send. */
type ChosenPartitions = WeakMap<object, number>;

/** The Java-compatible partitioner, noting each message's partition in `chosen`. */
function notingPartitioner(chosen: ChosenPartitions): ICustomPartitioner {
  return () => {
    const partitioner = JavaCompatiblePartitioner();
    return (args) => {
      const partition = partitioner(args);
      chosen.set(args.message, partition);
      return partition;
    };
  };
}

/** Some records of an acknowledged send were never sent (see unwrittenPartitions). */
export class RecordsNotWrittenError extends Error {
  override readonly name = 'RecordsNotWrittenError';
  /** Sending the whole batch again (with a new producer) writes them. */
  readonly retriable = true;
  constructor(readonly partitions: string[]) {
    super(
      `kafkajs acknowledged a send without writing its records to ${partitions.join(', ')} ` +
        '(a leader moved to a broker that had answered already): the send is repeated',
    );
  }
}

/**
 * The topic-partitions of `batch` that have no answer in what sendBatch returned. kafkajs 2.2.4
 * keeps, across its retries of one send, the answers of the brokers that answered; when a
 * broker dies and its partitions' leadership moves to a broker that had answered, the retry sends
 * those partitions' records nowhere and the send resolves (tulios/kafkajs#1303): acknowledged
 * records that Kafka never got. Seen on the 3-broker cluster with a broker SIGKILLed
 * (tests/kafka-cluster.test.ts: input records missing).
 */
export function unwrittenPartitions(
  batch: ProducerBatch,
  written: readonly Pick<RecordMetadata, 'topicName' | 'partition'>[],
  chosen: ChosenPartitions,
): string[] {
  const answered = new Set(written.map((w) => `${w.topicName}/${w.partition}`));
  const missing = new Set<string>();
  for (const { topic, messages } of batch.topicMessages ?? [])
    for (const message of messages) {
      const partition = chosen.get(message) ?? message.partition;
      const at = `${topic}/${partition ?? '?'}`;
      if (!answered.has(at)) missing.add(at);
    }
  return [...missing];
}

function newProducer(kafka: Kafka, chosen: ChosenPartitions): Producer {
  return kafka.producer({
    // Idempotent, so retries never duplicate; a failed attempt is repeated (see sendChunk)
    // until the send's deadline rather than dropping a record.
    idempotent: true,
    maxInFlightRequests: 5,
    allowAutoTopicCreation: false,
    retry: PRODUCER_ATTEMPT_RETRY,
    // Murmur2 on the key, as the Java client: producers in any language agree on the partition
    // of a conversation, which co-partitioning relies on. Each choice is noted, to check that
    // every partition of a send was written (unwrittenPartitions).
    createPartitioner: notingPartitioner(chosen),
  });
}

/**
 * A RecordProducer on kafkajs' idempotent producer, replaced by a fresh one after a failed
 * attempt. A produce request is tried again (after a short wait) while the error is one retrying
 * can fix, until its deadline (`sendTimeoutMs`, reconnecting included): past it the send fails
 * with KafkaSendTimeoutError instead of waiting for Kafka for ever, so a caller (an API request,
 * the gateway's presence, a pipeline step) fails in bounded time during an outage.
 */
export class KafkaRecordProducer implements RecordProducer {
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  /**
   * Attempts given up at their deadline that may still be under way inside kafkajs: a record of
   * theirs could still be written, after anything sent meanwhile. The next attempt waits for them.
   */
  private abandoned: Promise<unknown> = Promise.resolve();

  /**
   * Connects a producer, trying again while Kafka answers with errors retrying can fix (a
   * coordinator still loading on a fresh broker) for up to START_CONNECT_MS;
   * KafkaUnavailableError when Kafka cannot be reached.
   */
  static async connect(
    kafka: Kafka,
    brokers: string[],
    sendTimeoutMs: number,
  ): Promise<KafkaRecordProducer> {
    const deadline = Date.now() + START_CONNECT_MS;
    const chosen: ChosenPartitions = new WeakMap();
    for (let failures = 0; ; failures++) {
      const producer = newProducer(kafka, chosen);
      try {
        await producer.connect();
        return new KafkaRecordProducer(
          producer,
          () => newProducer(kafka, chosen),
          chosen,
          brokers,
          sendTimeoutMs,
        );
      } catch (err) {
        await producer.disconnect().catch(() => undefined);
        const wait = attemptWait(failures);
        if (!worthRetrying(err) || Date.now() + wait > deadline)
          throw new KafkaUnavailableError(brokers, err);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  private constructor(
    first: Producer,
    private readonly create: () => Producer,
    private readonly chosen: ChosenPartitions,
    private readonly brokers: string[],
    private readonly sendTimeoutMs: number,
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

  /** One produce request, tried until it is acknowledged or its deadline passes. */
  private async sendChunk(records: OutboundRecord[]): Promise<void> {
    const byTopic = new Map<string, OutboundRecord[]>();
    for (const r of records) {
      const list = byTopic.get(r.topic);
      if (list) list.push(r);
      else byTopic.set(r.topic, [r]);
    }
    const batch: ProducerBatch = {
      acks: -1,
      // The broker waits no longer for its replicas than the caller waits for the broker.
      timeout: this.sendTimeoutMs,
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
    };
    const deadline = Date.now() + this.sendTimeoutMs;
    const timedOut = (cause: unknown) =>
      new KafkaSendTimeoutError([...byTopic.keys()], this.sendTimeoutMs, this.brokers, cause);
    let lastError: unknown;
    for (let failures = 0; ; failures++) {
      const left = deadline - Date.now();
      if (left <= 0) throw timedOut(lastError);
      try {
        await this.attempt(batch, left);
        return;
      } catch (err) {
        if (err instanceof AttemptTimeout) throw timedOut(lastError);
        if (!worthRetrying(err)) throw err;
        lastError = err;
      }
      const wait = Math.min(attemptWait(failures), deadline - Date.now());
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /**
   * One attempt on the current producer, given up after `timeoutMs`. A producer whose attempt
   * failed is dropped: kafkajs' idempotent producer has counted the failed records' sequence
   * numbers although the broker wrote nothing, so every later send to those partitions would
   * fail with OUT_OF_ORDER_SEQUENCE_NUMBER; the next attempt gets a fresh producer (a new
   * producer id). An attempt given up may still be retrying inside kafkajs (briefly, see
   * PRODUCER_ATTEMPT_RETRY): its producer is disconnected now and again once it settles, and
   * the next attempt waits until it has settled (or its own deadline passes).
   */
  private async attempt(batch: ProducerBatch, timeoutMs: number): Promise<void> {
    let producer: Producer | undefined;
    let abandoned = false;
    const sending = (async () => {
      // Nothing goes out while an abandoned attempt may still write: its older records would
      // land after these.
      await this.abandoned;
      if (abandoned) return;
      const connected = await this.current();
      if (abandoned) return; // connected after the deadline: the caller has moved on
      producer = connected;
      const written = await connected.sendBatch(batch);
      const missing = unwrittenPartitions(batch, written, this.chosen);
      if (missing.length > 0) throw new RecordsNotWrittenError(missing);
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AttemptTimeout()), timeoutMs);
    });
    try {
      await Promise.race([sending, timeout]);
    } catch (err) {
      abandoned = true;
      void sending.catch(() => undefined); // its own failure, if any, comes too late to matter
      const failed = producer;
      if (failed) {
        const settled = sending.catch(() => undefined);
        this.abandoned = Promise.all([this.abandoned, settled]);
        if (this.producer === failed) this.producer = undefined;
        const disconnect = () => failed.disconnect().catch(() => undefined);
        void disconnect();
        void sending.then(disconnect, disconnect);
      }
      throw err;
    } finally {
      clearTimeout(timer);
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
