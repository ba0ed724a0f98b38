import type { DeadLetter, DeadLetterReason } from '../../schemas/types';
import type { InboundRecord } from '../kafka/types';

/** Headers of a dead-letter record, so it can be routed or counted without decoding it. */
export const DEAD_LETTER_REASON_HEADER = 'ticks.reason';
/** `topic/partition/offset` of the original record. */
export const DEAD_LETTER_SOURCE_HEADER = 'ticks.source';

/** A record for the dead_letters topic, before encoding. */
export interface DeadLetterRecord {
  /** The original key, byte for byte: a dead letter lands on its key's partition. */
  key: Buffer | null;
  value: DeadLetter;
  headers: Record<string, string>;
}

/**
 * The one way ticks builds a dead letter: the original key and bytes, where the record came from,
 * why it could not be used, and when it was given up (`failedAt`, ms).
 */
export function deadLetterRecord(
  record: InboundRecord,
  reason: DeadLetterReason,
  detail: string,
  failedAt: number,
): DeadLetterRecord {
  return {
    key: record.key,
    headers: {
      [DEAD_LETTER_REASON_HEADER]: reason,
      [DEAD_LETTER_SOURCE_HEADER]: `${record.topic}/${record.partition}/${record.offset}`,
    },
    value: {
      source_topic: record.topic,
      source_partition: record.partition,
      source_offset: Number(record.offset),
      key: record.key,
      value: record.value,
      reason,
      detail,
      failed_at: failedAt,
    },
  };
}
