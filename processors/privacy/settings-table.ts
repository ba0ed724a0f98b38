import type { Logger } from 'pino';
import type { KafkaClient } from '../../runtime/kafka/kafka-client';
import type {
  ConsumerStatus,
  GroupConsumer,
  InboundBatch,
  InboundRecord,
} from '../../runtime/kafka/types';
import { isReasoned, type RecordCodec } from '../../runtime/api';
import type { ConversationMute, UserSettings } from '../../schemas/types';

/** How a record that failed to decode for a reason retrying may fix (the registry) is retried. */
export interface SettingsRetryOptions {
  /** The wait after the first failure; doubles per failure. */
  initialMs: number;
  /** The longest wait between attempts. */
  maxMs: number;
  /**
   * How long a record may keep failing before the whole table counts as unknown (every
   * sharesReads() throws) while it is retried on.
   */
  unknownAfterMs: number;
}

export const DEFAULT_SETTINGS_RETRY: SettingsRetryOptions = {
  initialMs: 100,
  maxMs: 5_000,
  unknownAfterMs: 10_000,
};

/**
 * A user's read receipts setting is not known: a user_settings record could not be decoded.
 * Retriable: the step (or punctuation) that asked fails and is tried again after a back-off,
 * until the record decodes or a readable record replaces it.
 */
export class SettingsUnknownError extends Error {
  override readonly name = 'SettingsUnknownError';
  readonly retriable = true;
  constructor(
    readonly userId: string,
    problem: string,
  ) {
    super(`read receipts setting of user ${userId} is not known: ${problem}`);
  }
}

/**
 * The compacted user_settings topic as a global table (Kafka Streams' GlobalKTable): every
 * process reads all of it from the beginning and keeps who turned read receipts off and which
 * conversations each user muted (until when). Only opt-outs and mutes are kept in memory: the
 * default is to share and to be unmuted. A record whose version is below the user's newest one
 * applied is ignored (the schema's rule: an older record never overwrites a newer one).
 *
 * A record that cannot be decoded is never taken as "shares reads" (that would tell senders what
 * an opted-out user read). A failure retrying may fix (the registry unreachable, at start or
 * later) is retried with back-off, holding the table at that record; past `unknownAfterMs` every
 * user's setting is unknown until it decodes. A record that can never decode (not Avro, an
 * unknown schema, not a settings value) makes its user's (the record key's) setting unknown
 * until a readable record for that user replaces it. Either way sharesReads() then throws
 * SettingsUnknownError, an error is logged naming the record and what to do, and the pipeline's
 * steps that need that setting fail and are retried.
 */
export class SettingsTable {
  private readonly optedOut = new Set<string>();
  /** user → their muted conversations (only users with some). */
  private readonly mutes = new Map<string, ConversationMute[]>();
  /** user → the version of their newest record applied. */
  private readonly versions = new Map<string, number>();
  /** Users whose newest record could not be decoded, and why. */
  private readonly unreadable = new Map<string, string>();
  /** Set while a record keeps failing past `unknownAfterMs`: no user's setting is known. */
  private stalled: string | undefined;
  private consumer: GroupConsumer | undefined;
  private groupId: string | undefined;
  private stopping = false;
  private readonly retry: SettingsRetryOptions;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly codec: RecordCodec,
    private readonly topic: string,
    private readonly logger: Logger,
    retry: Partial<SettingsRetryOptions> = {},
  ) {
    this.retry = { ...DEFAULT_SETTINGS_RETRY, ...retry };
  }

  /** Where the table's consumer is (liveness and readiness of the process). */
  consumerStatus(): ConsumerStatus {
    return this.consumer?.status() ?? { state: 'stopped' };
  }

  /** Whether the user shares read receipts; SettingsUnknownError when that is not known. */
  sharesReads(userId: string): boolean {
    const problem = this.stalled ?? this.unreadable.get(userId);
    if (problem !== undefined) throw new SettingsUnknownError(userId, problem);
    return !this.optedOut.has(userId);
  }

  /**
   * For display (receipt details): whether the user is known to share read receipts; an unknown
   * setting hides the read, as an opt-out would.
   */
  knownToShareReads(userId: string): boolean {
    return this.stalled === undefined && !this.unreadable.has(userId) && this.sharesReads(userId);
  }

  /**
   * The user's muted conversations whose mute has not ended at `now`: conversation → until
   * (null: until unmuted). An unreadable setting shows no mute (muting hides nothing sensitive).
   */
  mutedConversations(userId: string, now: number): Map<string, number | null> {
    const muted = new Map<string, number | null>();
    for (const m of this.mutes.get(userId) ?? [])
      if (m.until === null || m.until > now) muted.set(m.conversation_id, m.until);
    return muted;
  }

  /**
   * The user's whole settings as this table knows them, for a writer that changes one part and
   * publishes the record again (compacted: the new record replaces the old one).
   */
  current(userId: string): {
    readReceiptsEnabled: boolean;
    mutes: ConversationMute[];
    version: number;
  } {
    return {
      readReceiptsEnabled: !this.optedOut.has(userId),
      mutes: [...(this.mutes.get(userId) ?? [])],
      version: this.versions.get(userId) ?? 0,
    };
  }

  apply(settings: UserSettings): void {
    const newest = this.versions.get(settings.user_id);
    if (newest !== undefined && settings.version < newest) return;
    this.versions.set(settings.user_id, settings.version);
    const mutes = settings.muted_conversations ?? [];
    if (mutes.length > 0) this.mutes.set(settings.user_id, mutes);
    else this.mutes.delete(settings.user_id);
    this.unreadable.delete(settings.user_id);
    if (settings.read_receipts_enabled) this.optedOut.delete(settings.user_id);
    else this.optedOut.add(settings.user_id);
  }

  /** Starts following the topic; resolves once everything that was in it at start is applied. */
  async start(groupId: string, timeoutMs = 60_000): Promise<void> {
    this.groupId = groupId;
    this.stopping = false;
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
      // It commits nothing: a rejoin under load would read the whole topic again.
      keepsPlace: true,
      onBatch: async (batch) => {
        for (const record of batch.records) {
          if (this.stopping) return;
          if (record.value === null) continue; // a tombstone: the user's settings were deleted
          await this.load(record, record.value, batch);
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
              `user settings table not loaded within ${timeoutMs} ms (topic ${this.topic})${
                this.stalled ? `: ${this.stalled}` : ''
              }`,
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
    this.stopping = true;
    await this.consumer?.stop();
    this.consumer = undefined;
    const groupId = this.groupId;
    this.groupId = undefined;
    if (groupId)
      await this.kafka.withAdmin((admin) => admin.deleteGroup(groupId)).catch(() => undefined);
  }

  /**
   * Decodes and applies one record. A failure retrying may fix is retried here, with back-off,
   * until the record decodes (or the table stops): later records wait, as they must — one of
   * them may be this user's newer setting.
   */
  private async load(record: InboundRecord, value: Buffer, batch: InboundBatch): Promise<void> {
    const where = `${this.topic} partition ${record.partition} offset ${record.offset}`;
    const failingSince = Date.now();
    for (let failures = 0; !this.stopping; failures++) {
      let decoded: { role: string; value: unknown };
      try {
        decoded = await this.codec.decode(value);
      } catch (err) {
        if (isReasoned(err)) return this.unreadableRecord(record, where, err.message);
        const problem = `the user_settings record at ${where} cannot be decoded yet (${
          err instanceof Error ? err.message : String(err)
        })`;
        if (!this.stalled && Date.now() - failingSince >= this.retry.unknownAfterMs) {
          this.stalled = problem;
          this.logger.error(
            { err, partition: record.partition, offset: record.offset },
            `${problem}: no user's read receipts setting is known until it can be, so steps that need one fail and are retried; check the schema registry (TICKS_REGISTRY_URL)`,
          );
        } else if (!this.stalled)
          this.logger.warn({ err, partition: record.partition, offset: record.offset }, problem);
        const wait = Math.min(this.retry.maxMs, this.retry.initialMs * 2 ** failures);
        await new Promise((resolve) => setTimeout(resolve, wait));
        // The group would count a consumer silent this long as dead.
        await batch.heartbeat().catch(() => undefined);
        continue;
      }
      if (this.stalled) {
        this.logger.info({ where }, 'user settings readable again: read receipts settings known');
        this.stalled = undefined;
      }
      if (decoded.role === 'userSettings') this.apply(decoded.value as UserSettings);
      else this.unreadableRecord(record, where, `it holds a ${decoded.role} value`);
      return;
    }
  }

  /** A record that will never decode as settings: its user's setting is unknown until replaced. */
  private unreadableRecord(record: InboundRecord, where: string, why: string): void {
    const userId = record.key?.toString();
    const problem = `the user_settings record at ${where} cannot be decoded as user settings (${why})`;
    if (userId === undefined) {
      // Kafka refuses keyless records on a compacted topic; if one got there, whose it is
      // cannot be told, so nobody's setting is known.
      this.stalled = `${problem}, and it has no key`;
      this.logger.error(
        { partition: record.partition, offset: record.offset },
        `${this.stalled}: no user's read receipts setting is known until this process restarts on a topic without it`,
      );
      return;
    }
    this.unreadable.set(userId, problem);
    this.logger.error(
      { userId, partition: record.partition, offset: record.offset },
      `${problem}: ${userId}'s reads are neither shared nor applied until a readable record replaces it (steps that need it fail and are retried) — publish ${userId}'s settings again`,
    );
  }
}
