import type { Logger } from 'pino';
import type { KafkaClient } from '../../runtime/kafka/kafka-client';
import type { GroupConsumer } from '../../runtime/kafka/types';
import type { RecordCodec } from '../../runtime/api';
import type { UserSettings } from '../../schemas/types';

/**
 * The compacted user_settings topic as a global table (Kafka Streams' GlobalKTable): every
 * process reads all of it from the beginning and keeps who turned read receipts off. Only
 * opt-outs are kept in memory: the default is to share.
 */
export class SettingsTable {
  private readonly optedOut = new Set<string>();
  private consumer: GroupConsumer | undefined;
  private groupId: string | undefined;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly codec: RecordCodec,
    private readonly topic: string,
    private readonly logger: Logger,
  ) {}

  sharesReads(userId: string): boolean {
    return !this.optedOut.has(userId);
  }

  apply(settings: UserSettings): void {
    if (settings.read_receipts_enabled) this.optedOut.delete(settings.user_id);
    else this.optedOut.add(settings.user_id);
  }

  /** Starts following the topic; resolves once everything that was in it at start is applied. */
  async start(groupId: string, timeoutMs = 60_000): Promise<void> {
    this.groupId = groupId;
    const ends = await this.kafka.withAdmin((admin) => admin.endOffsets(this.topic));
    const behind = new Map(
      [...ends].filter(([, end]) => end !== '0').map(([p, end]) => [p, BigInt(end)]),
    );
    let caughtUp!: () => void;
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    if (behind.size === 0) caughtUp();

    this.consumer = this.kafka.groupConsumer({
      groupId,
      topics: [this.topic],
      coPartitioned: false,
      fromBeginning: true,
      onBatch: async (batch) => {
        for (const record of batch.records) {
          if (record.value === null) continue; // a tombstone: the user's settings were deleted
          try {
            const decoded = await this.codec.decode(record.value);
            if (decoded.role === 'userSettings') this.apply(decoded.value as UserSettings);
            else
              this.logger.warn(
                { partition: record.partition, offset: record.offset, role: decoded.role },
                'not a user settings record; skipped',
              );
          } catch (err) {
            this.logger.warn(
              { err, partition: record.partition, offset: record.offset },
              'unreadable user settings record skipped',
            );
          }
        }
        const last = batch.records[batch.records.length - 1];
        const end = behind.get(batch.partition);
        if (last && end !== undefined && BigInt(last.offset) + 1n >= end) {
          behind.delete(batch.partition);
          if (behind.size === 0) caughtUp();
        }
      },
    });
    await this.consumer.start();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `user settings table not loaded within ${timeoutMs} ms (topic ${this.topic})`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops following the topic and deletes this process's throwaway consumer group. */
  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.consumer = undefined;
    const groupId = this.groupId;
    this.groupId = undefined;
    if (groupId)
      await this.kafka.withAdmin((admin) => admin.deleteGroup(groupId)).catch(() => undefined);
  }
}
