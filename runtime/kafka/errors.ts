/** Kafka could not be reached or refused a call; `retriable` says whether trying again can help. */
export class KafkaUnavailableError extends Error {
  override readonly name = 'KafkaUnavailableError';
  constructor(
    readonly brokers: string[],
    override readonly cause: unknown,
    readonly retriable = true,
  ) {
    super(
      `Kafka not reachable at ${brokers.join(',')} — run \`npm run stack:up\` (or check TICKS_KAFKA_BROKERS): ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
    );
  }
}

/**
 * Kafka did not acknowledge a send within its bound (TICKS_KAFKA_SEND_TIMEOUT_MS): the brokers
 * are unreachable, the topic is missing or has no leader, or the broker is overloaded. The
 * records may still have been written: retrying is safe (ticks' effects are idempotent).
 */
export class KafkaSendTimeoutError extends Error {
  override readonly name = 'KafkaSendTimeoutError';
  readonly retriable = true;
  constructor(
    readonly topics: string[],
    readonly timeoutMs: number,
    readonly brokers: string[],
    /** The last error Kafka answered with, if any. */
    override readonly cause?: unknown,
  ) {
    super(
      `Kafka (${brokers.join(',')}) did not acknowledge records for ${topics.join(', ')} within ${timeoutMs} ms (TICKS_KAFKA_SEND_TIMEOUT_MS): the brokers are unreachable, a topic is missing or has no leader, or the broker is overloaded${
        cause instanceof Error ? ` (last error: ${cause.message})` : ''
      }`,
    );
  }
}
