/**
 * TypeScript shapes of the dev.ticks Avro records, written by hand to match the .avsc files beside
 * this one (schemas/types.test.ts checks that every record and enum has its type here).
 *
 * Mapping, as decoded by the codec's avsc types (see avro-type-options.ts):
 * - long → number. Seqs, versions and counts stay below 2^53; avsc refuses (rather than round)
 *   anything beyond ±(2^53 − 2) when writing or reading, so the largest usable seq is 2^53 − 2.
 * - timestamp-millis → number of epoch milliseconds (EpochMillisType), not Date: no allocation on
 *   the hot path, and arithmetic (windows, latency) needs the number anyway.
 * - enum → string literal union; bytes → Buffer; ["null", T] → T | null.
 * - A union of records (the envelopes' `payload`, OfflineBatch's items) is *wrapped*: an object
 *   with exactly one key, the record's full name, e.g. `{ 'dev.ticks.MessageSent': {...} }` — the
 *   Avro JSON encoding of unions, and what avsc reads natively (no conversion step). Narrow it with
 *   `'dev.ticks.MessageSent' in payload` (TypeScript narrows on `in`), or get the name with
 *   `branchOf(payload)`. Build one with a computed key: `{ [TypeName.MessageSent]: sent }`.
 */

/** Full Avro names of the dev.ticks named types; also the keys of wrapped unions. */
export const TypeName = {
  ConversationKind: 'dev.ticks.ConversationKind',
  MessageSent: 'dev.ticks.MessageSent',
  MemberAdded: 'dev.ticks.MemberAdded',
  MemberRemoved: 'dev.ticks.MemberRemoved',
  MessageDeleted: 'dev.ticks.MessageDeleted',
  ConversationEvent: 'dev.ticks.ConversationEvent',
  Delivered: 'dev.ticks.Delivered',
  ReadUpTo: 'dev.ticks.ReadUpTo',
  MarkedUnread: 'dev.ticks.MarkedUnread',
  ReceiptEvent: 'dev.ticks.ReceiptEvent',
  UserSettings: 'dev.ticks.UserSettings',
  ConversationMute: 'dev.ticks.ConversationMute',
  PresenceStatus: 'dev.ticks.PresenceStatus',
  Presence: 'dev.ticks.Presence',
  ReceiptStatus: 'dev.ticks.ReceiptStatus',
  MessageStatusUpdate: 'dev.ticks.MessageStatusUpdate',
  GroupSummary: 'dev.ticks.GroupSummary',
  GroupMessageCounts: 'dev.ticks.GroupMessageCounts',
  GroupSenderSummary: 'dev.ticks.GroupSenderSummary',
  UnreadSync: 'dev.ticks.UnreadSync',
  OfflineBatch: 'dev.ticks.OfflineBatch',
  ReceiptUpdate: 'dev.ticks.ReceiptUpdate',
  DeadLetterReason: 'dev.ticks.DeadLetterReason',
  DeadLetter: 'dev.ticks.DeadLetter',
  WatermarkAdvanced: 'dev.ticks.WatermarkAdvanced',
  MessagesDelivered: 'dev.ticks.MessagesDelivered',
  UnreadMarked: 'dev.ticks.UnreadMarked',
  StateChange: 'dev.ticks.StateChange',
  StateChangeBatch: 'dev.ticks.StateChangeBatch',
} as const;
export type TypeName = (typeof TypeName)[keyof typeof TypeName];

/** Epoch milliseconds, UTC (Avro timestamp-millis). */
export type EpochMillis = number;

export const CONVERSATION_KINDS = ['DIRECT', 'GROUP'] as const;
export type ConversationKind = (typeof CONVERSATION_KINDS)[number];

export const PRESENCE_STATUSES = ['ONLINE', 'OFFLINE'] as const;
export type PresenceStatus = (typeof PRESENCE_STATUSES)[number];

export const RECEIPT_STATUSES = ['DELIVERED', 'READ'] as const;
export type ReceiptStatus = (typeof RECEIPT_STATUSES)[number];

export const DEAD_LETTER_REASONS = [
  'UNDECODABLE',
  'UNKNOWN_SCHEMA',
  'INVALID_FIELDS',
  'OVERSIZED_BATCH',
  'NOT_A_MEMBER',
  'SEQ_NOT_REACHED',
  'UNKNOWN_MESSAGE',
  'PROCESSING_FAILED',
  'MESSAGE_DELETED',
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export interface MessageSent {
  message_id: string;
  seq: number;
  sender_id: string;
  kind: ConversationKind;
  sent_at: EpochMillis;
}

export interface MemberAdded {
  user_id: string;
  kind: ConversationKind;
  added_at: EpochMillis;
}

export interface MemberRemoved {
  user_id: string;
  removed_at: EpochMillis;
}

export interface MessageDeleted {
  message_id: string;
  deleted_by: string;
  deleted_at: EpochMillis;
}

export type ConversationEventPayload =
  | { [TypeName.MessageSent]: MessageSent }
  | { [TypeName.MemberAdded]: MemberAdded }
  | { [TypeName.MemberRemoved]: MemberRemoved }
  | { [TypeName.MessageDeleted]: MessageDeleted };

export interface ConversationEvent {
  event_id: string;
  conversation_id: string;
  occurred_at: EpochMillis;
  payload: ConversationEventPayload;
}

/** Exactly one of the two is set; validated by the receipt processor, not by Avro. */
export interface Delivered {
  message_ids: string[] | null;
  up_to_seq: number | null;
}

/** One of the two is set; validated by the receipt processor, not by Avro. */
export interface ReadUpTo {
  seq: number | null;
  message_id: string | null;
}

/** Mark as unread: no fields, the envelope says who, from which device and when. */
export type MarkedUnread = Record<string, never>;

export type ReceiptEventPayload =
  | { [TypeName.Delivered]: Delivered }
  | { [TypeName.ReadUpTo]: ReadUpTo }
  | { [TypeName.MarkedUnread]: MarkedUnread };

export interface ReceiptEvent {
  event_id: string;
  conversation_id: string;
  user_id: string;
  device_id: string;
  occurred_at: EpochMillis;
  payload: ReceiptEventPayload;
}

export interface ConversationMute {
  conversation_id: string;
  /** null: until unmuted. */
  until: EpochMillis | null;
}

export interface UserSettings {
  user_id: string;
  read_receipts_enabled: boolean;
  updated_at: EpochMillis;
  version: number;
  /** Always there when decoded (the schema's default: none); writers may leave it out. */
  muted_conversations?: ConversationMute[];
}

export interface Presence {
  user_id: string;
  device_id: string;
  status: PresenceStatus;
  at: EpochMillis;
  /** ONLINE: how long the device counts as online unless renewed; null: the batcher's default. */
  lease_ms?: number | null;
}

export interface MessageStatusUpdate {
  conversation_id: string;
  message_id: string;
  seq: number;
  status: ReceiptStatus;
  by: string;
}

/** One message in a GroupSenderSummary. */
export interface GroupMessageCounts {
  message_id: string;
  seq: number;
  status: ReceiptStatus;
  read_count: number;
  delivered_count: number;
  total: number;
}

/** The one-message summary of the version before GroupSenderSummary (still read). */
export interface GroupSummary extends GroupMessageCounts {
  conversation_id: string;
  window_start: EpochMillis;
  window_end: EpochMillis;
}

/** What a sender is told when a group window closes: every message of theirs it changed. */
export interface GroupSenderSummary {
  conversation_id: string;
  /** Newest first. */
  messages: GroupMessageCounts[];
  window_start: EpochMillis;
  window_end: EpochMillis;
}

/**
 * A GroupSummary (one message, written by builds before GroupSenderSummary) in the shape that
 * replaced it, so that consumers handle one shape whichever build wrote the record.
 */
export function senderSummaryOf(legacy: GroupSummary): GroupSenderSummary {
  const { conversation_id, window_start, window_end, ...message } = legacy;
  return { conversation_id, messages: [message], window_start, window_end };
}

export interface UnreadSync {
  conversation_id: string;
  unread_count: number;
  badge_count: number;
  read_up_to_seq: number;
  origin_device_id: string | null;
}

export type OfflineUpdate =
  | { [TypeName.MessageStatusUpdate]: MessageStatusUpdate }
  | { [TypeName.GroupSummary]: GroupSummary }
  | { [TypeName.UnreadSync]: UnreadSync }
  | { [TypeName.GroupSenderSummary]: GroupSenderSummary };

export interface OfflineBatch {
  updates: OfflineUpdate[];
}

export type ReceiptUpdatePayload = OfflineUpdate | { [TypeName.OfflineBatch]: OfflineBatch };

export interface ReceiptUpdate {
  update_id: string;
  user_id: string;
  version: number;
  source_event_at: EpochMillis;
  emitted_at: EpochMillis;
  payload: ReceiptUpdatePayload;
}

export interface DeadLetter {
  source_topic: string;
  source_partition: number;
  source_offset: number;
  key: Buffer | null;
  value: Buffer | null;
  reason: DeadLetterReason;
  detail: string;
  failed_at: EpochMillis;
}

export interface WatermarkAdvanced {
  user_id: string;
  read_seq: number;
  delivered_seq: number;
  at: EpochMillis;
}

export interface MessagesDelivered {
  user_id: string;
  message_ids: string[];
  at: EpochMillis;
}

export interface UnreadMarked {
  user_id: string;
  marked: boolean;
  at: EpochMillis;
}

export type StateChangePayload =
  | { [TypeName.MessageSent]: MessageSent }
  | { [TypeName.MemberAdded]: MemberAdded }
  | { [TypeName.MemberRemoved]: MemberRemoved }
  | { [TypeName.WatermarkAdvanced]: WatermarkAdvanced }
  | { [TypeName.MessagesDelivered]: MessagesDelivered }
  | { [TypeName.MessageDeleted]: MessageDeleted }
  | { [TypeName.UnreadMarked]: UnreadMarked };

export interface StateChange {
  conversation_id: string;
  source_offset: number;
  change: StateChangePayload;
}

/** A state_changes record: one step's changes of one partition, in order. */
export interface StateChangeBatch {
  changes: StateChange[];
}

/** The key of a wrapped union value: `K` for `{ K: V }`. */
export type BranchName<U> = U extends unknown ? keyof U & string : never;

/**
 * Which record a wrapped union holds, e.g. 'dev.ticks.MessageSent'. Constant time, no allocation
 * (for…in visits the value's own key before avsc's prototype methods).
 */
export function branchOf<U extends object>(union: U): BranchName<U> {
  for (const name in union) return name as unknown as BranchName<U>;
  throw new TypeError('not a wrapped union value: it has no key');
}
