import { Type, type Static } from '@sinclair/typebox';
import { MAX_ID_LENGTH } from '../processors/validation';

/**
 * Request and response schemas of the query API (TypeBox: JSON Schema with static types). They
 * validate requests, serialize responses and make the OpenAPI document at /openapi.json.
 */
export const Id = (description: string) =>
  Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, description });

/** Seqs are positive integers below 2^53 (the processors' rule). */
export const Seq = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

const EpochMillis = (description: string) =>
  Type.Integer({ minimum: 0, description: `${description} (epoch milliseconds, UTC)` });

export const ErrorBody = Type.Object(
  {
    error: Type.String({
      description:
        'Machine-readable code: unauthorized, forbidden, not_found, payload_too_large, invalid_request, malformed_json, unavailable',
    }),
    message: Type.String({ description: 'What went wrong, for a person' }),
  },
  { $id: 'Error', description: 'Every error answer' },
);

export const Accepted = Type.Object(
  {
    accepted: Type.Literal(true),
    event_id: Type.String({ description: 'Id of the receipt event produced' }),
  },
  { description: 'The receipt event was produced; its effects follow asynchronously' },
);

/** `user_id` may be given; it must then be the caller (a user reports only their own receipts). */
const OwnUser = Type.Optional(Id('Must be the authenticated user when given'));

export const DeliveredBody = Type.Object(
  {
    conversation_id: Id('Conversation of the messages'),
    message_ids: Type.Array(Id('Message received'), {
      minItems: 1,
      description: 'Messages the device received (at most TICKS_MAX_DELIVERED_BATCH)',
    }),
    user_id: OwnUser,
  },
  { additionalProperties: false },
);
export type DeliveredBody = Static<typeof DeliveredBody>;

export const ReadBody = Type.Object(
  {
    conversation_id: Id('Conversation read'),
    up_to_message_id: Type.Optional(Id('Newest message read (or give seq)')),
    seq: Type.Optional(Seq),
    user_id: OwnUser,
  },
  {
    additionalProperties: false,
    description: 'Exactly one of up_to_message_id and seq',
  },
);
export type ReadBody = Static<typeof ReadBody>;

export const ReceiptsParams = Type.Object({
  conversation_id: Id('Conversation of the message'),
  message_id: Id('The message'),
});
export type ReceiptsParams = Static<typeof ReceiptsParams>;

export const ReceiptsQuery = Type.Object({
  seq: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: Number.MAX_SAFE_INTEGER,
      description:
        "The message's seq, where the client knows it (every message event and receipt update carries it): the hot store finds the message there at once instead of searching its index. A hint: a wrong one costs the search, never a wrong answer.",
    }),
  ),
});
export type ReceiptsQuery = Static<typeof ReceiptsQuery>;

const ReceiptEntry = Type.Object({
  user_id: Type.String(),
  at: Type.Union([EpochMillis('When'), Type.Null()], {
    description: 'When (epoch ms); null when it happened at a time no longer known',
  }),
});

export const ReceiptsResponse = Type.Object({
  conversation_id: Type.String(),
  message_id: Type.String(),
  seq: Type.Integer(),
  sender_id: Type.String(),
  sent_at: EpochMillis('When the message was sent'),
  delivered: Type.Array(ReceiptEntry, {
    description: 'Members (not the sender) whose devices received it, readers included',
  }),
  read: Type.Array(ReceiptEntry, {
    description:
      'Members (not the sender) who read it and share read receipts; a member who turned them off appears only under delivered',
  }),
  total: Type.Integer({ description: 'Members other than the sender' }),
});
export type ReceiptsResponse = Static<typeof ReceiptsResponse>;

export const ConversationParams = Type.Object({
  conversation_id: Id('The conversation'),
});
export type ConversationParams = Static<typeof ConversationParams>;

export const MuteBody = Type.Object(
  {
    muted: Type.Boolean({ default: true, description: 'false unmutes' }),
    until: Type.Optional(
      Type.Union([EpochMillis('When the mute ends by itself; in the future'), Type.Null()], {
        description: 'When the mute ends by itself (epoch ms); absent or null: until unmuted',
      }),
    ),
  },
  { additionalProperties: false },
);
export type MuteBody = Static<typeof MuteBody>;

export const MuteResponse = Type.Object(
  {
    conversation_id: Type.String(),
    muted: Type.Boolean(),
    until: Type.Union([EpochMillis('When the mute ends'), Type.Null()]),
  },
  {
    description:
      "The user's settings record was produced (user_settings, compacted); unread answers of this process show it at once, others once they read it",
  },
);

export const UnreadQuery = Type.Object({
  limit: Type.Integer({
    minimum: 1,
    maximum: 1000,
    default: 200,
    description: 'Most conversations listed (newest first)',
  }),
  cursor: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 2 * MAX_ID_LENGTH,
      description: 'Where to start: the next_cursor of the previous page',
    }),
  ),
});
export type UnreadQuery = Static<typeof UnreadQuery>;

export const UnreadResponse = Type.Object({
  user_id: Type.String(),
  conversations: Type.Array(
    Type.Object({
      conversation_id: Type.String(),
      unread: Type.Integer({
        description: 'Messages after the read watermark; at least 1 while marked unread',
      }),
      marked_unread: Type.Boolean({
        description: 'The user marked it unread and has not read it since (from any device)',
      }),
      muted: Type.Boolean({ description: 'Muted: it keeps its unread count, not in the badge' }),
      muted_until: Type.Union([EpochMillis('When the mute ends'), Type.Null()], {
        description: 'When the mute ends by itself; null when not muted or muted until unmuted',
      }),
      read_up_to_seq: Type.Integer({ description: 'The read watermark' }),
      last_seq: Type.Integer({ description: 'Seq of the latest message' }),
      last_at: EpochMillis('When the latest message was sent'),
    }),
    { description: 'Ordered by latest message, newest first' },
  ),
  next_cursor: Type.Union([Type.String(), Type.Null()], {
    description:
      'Give it as cursor for the next page; null on the last page. A conversation with a newer message since moved to the first page',
  }),
  badge: Type.Object({
    count: Type.Integer({ description: 'Sources with unread messages, muted ones left out' }),
    sources: Type.Array(Type.String(), {
      description:
        'The peer of a direct chat, or the group id (a group counts once); not those of muted conversations',
    }),
  }),
});
export type UnreadResponse = Static<typeof UnreadResponse>;

export const errorResponses = {
  401: ErrorBody,
  403: ErrorBody,
  413: ErrorBody,
  422: ErrorBody,
  503: ErrorBody,
};
