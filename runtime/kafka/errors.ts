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
