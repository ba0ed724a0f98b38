import type { KafkaClient } from '../../runtime/kafka/kafka-client';
import type { GroupConsumer } from '../../runtime/kafka/types';

/**
 * The baseline: the same consumer ticks uses (kafkajs through runtime/kafka, same fetch sizes,
 * the co-partitioning assigner, a commit per batch) reading the same topics with no processing.
 * The ratio ticks ÷ baseline is then what the processing costs, not the client.
 */
export class BaselineConsumer {
  consumed = 0;
  private consumer: GroupConsumer | undefined;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly topics: string[],
  ) {}

  async start(groupId: string): Promise<void> {
    this.consumer = this.kafka.groupConsumer({
      groupId,
      topics: this.topics,
      coPartitioned: true,
      fromBeginning: true,
      onBatch: async (batch) => {
        if (batch.records.length === 0) return;
        this.consumed += batch.records.length;
        await batch.commit(batch.records[batch.records.length - 1]!.offset);
      },
    });
    await this.consumer.start();
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }
}
