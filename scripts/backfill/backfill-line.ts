import { createHash } from 'node:crypto';
import { z } from 'zod';
import { firstProblem, idProblem, seqProblem } from '../../processors/validation';
import {
  TypeName,
  type ConversationEvent,
  type ReceiptEvent,
  type UserSettings,
} from '../../schemas/types';

/**
 * One line of a backfill file: a JSON object, one event, in the shape below. Times (`at`) are
 * ISO-8601 strings or epoch milliseconds. `event_id` is optional: without it, a stable id is
 * derived from the line, so importing the same file twice produces the same events. Blank lines
 * and lines starting with `#` are skipped (and counted).
 *
 *   {"type":"member_added","conversation_id":"c1","user_id":"ana","kind":"DIRECT","at":"2026-05-01T10:00:00Z"}
 *   {"type":"member_removed","conversation_id":"c1","user_id":"ana","at":1777629600000}
 *   {"type":"message_sent","conversation_id":"c1","message_id":"m1","seq":1,"sender_id":"ana","kind":"DIRECT","at":"…"}
 *   {"type":"delivered","conversation_id":"c1","user_id":"bo","message_ids":["m1"],"device_id":"phone","at":"…"}
 *   {"type":"delivered","conversation_id":"c1","user_id":"bo","up_to_seq":1,"at":"…"}
 *   {"type":"read","conversation_id":"c1","user_id":"bo","seq":1,"at":"…"}            (or "message_id":"m1")
 *   {"type":"message_deleted","conversation_id":"c1","message_id":"m1","deleted_by":"ana","at":"…"}
 *   {"type":"marked_unread","conversation_id":"c1","user_id":"bo","device_id":"phone","at":"…"}
 *   {"type":"settings","user_id":"bo","read_receipts_enabled":false,"at":"…"}
 *   {"type":"settings","user_id":"bo","read_receipts_enabled":true,"muted_conversations":[{"conversation_id":"c1","until":"…"}],"at":"…"}
 * A settings line is the user's whole settings (it replaces the previous record): list every
 * muted conversation ("until" optional: muted until unmuted).
 */
export const LINE_FORMAT_HELP = `Line format (JSON lines; "at" is ISO-8601 or epoch ms; "event_id" optional; blank and # lines skipped):
  {"type":"member_added","conversation_id":"c1","user_id":"ana","kind":"DIRECT|GROUP","at":"2026-05-01T10:00:00Z"}
  {"type":"member_removed","conversation_id":"c1","user_id":"ana","at":"…"}
  {"type":"message_sent","conversation_id":"c1","message_id":"m1","seq":1,"sender_id":"ana","kind":"DIRECT|GROUP","at":"…"}
  {"type":"delivered","conversation_id":"c1","user_id":"bo","message_ids":["m1"] | "up_to_seq":1,"device_id":"phone","at":"…"}
  {"type":"read","conversation_id":"c1","user_id":"bo","seq":1 | "message_id":"m1","device_id":"phone","at":"…"}
  {"type":"message_deleted","conversation_id":"c1","message_id":"m1","deleted_by":"ana","at":"…"}
  {"type":"marked_unread","conversation_id":"c1","user_id":"bo","device_id":"phone","at":"…"}
  {"type":"settings","user_id":"bo","read_receipts_enabled":false,"muted_conversations":[{"conversation_id":"c1","until":"…"}],"at":"…"}
    (settings: the user's whole settings; muted_conversations optional, each "until" optional)`;

export type BackfillEvent =
  | { role: 'conversationEvents'; key: string; value: ConversationEvent }
  | { role: 'receiptEvents'; key: string; value: ReceiptEvent }
  | { role: 'userSettings'; key: string; value: UserSettings };

export type ParsedLine =
  | { kind: 'skip' }
  | { kind: 'event'; type: string; event: BackfillEvent }
  | { kind: 'reject'; error: string };

const time = z.union([
  z.number().int('must be whole epoch milliseconds').nonnegative(),
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T/, 'must be ISO-8601 (2026-05-01T10:00:00Z) or epoch ms')
    .refine((s) => !Number.isNaN(Date.parse(s)), 'is not a valid time'),
]);
const id = z.string();
const kind = z.enum(['DIRECT', 'GROUP']);
const common = { event_id: z.string().uuid().optional(), at: time };

const LINE = z.discriminatedUnion('type', [
  z
    .object({ type: z.literal('member_added'), conversation_id: id, user_id: id, kind, ...common })
    .strict(),
  z
    .object({ type: z.literal('member_removed'), conversation_id: id, user_id: id, ...common })
    .strict(),
  z
    .object({
      type: z.literal('message_sent'),
      conversation_id: id,
      message_id: id,
      seq: z.number(),
      sender_id: id,
      kind,
      ...common,
    })
    .strict(),
  z
    .object({
      type: z.literal('delivered'),
      conversation_id: id,
      user_id: id,
      device_id: id.default('backfill'),
      message_ids: z.array(id).optional(),
      up_to_seq: z.number().optional(),
      ...common,
    })
    .strict(),
  z
    .object({
      type: z.literal('read'),
      conversation_id: id,
      user_id: id,
      device_id: id.default('backfill'),
      seq: z.number().optional(),
      message_id: id.optional(),
      ...common,
    })
    .strict(),
  z
    .object({
      type: z.literal('message_deleted'),
      conversation_id: id,
      message_id: id,
      deleted_by: id,
      ...common,
    })
    .strict(),
  z
    .object({
      type: z.literal('marked_unread'),
      conversation_id: id,
      user_id: id,
      device_id: id.default('backfill'),
      ...common,
    })
    .strict(),
  z
    .object({
      type: z.literal('settings'),
      user_id: id,
      read_receipts_enabled: z.boolean(),
      muted_conversations: z
        .array(z.object({ conversation_id: id, until: time.nullable().optional() }).strict())
        .default([]),
      ...common,
    })
    .strict(),
]);

type Line = z.infer<typeof LINE>;

const TYPES = [
  'member_added',
  'member_removed',
  'message_sent',
  'delivered',
  'read',
  'message_deleted',
  'marked_unread',
  'settings',
] as const;

/** A stable UUID for a line without event_id: the same line always gets the same id. */
export function lineEventId(text: string): string {
  const h = createHash('sha1').update(text).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The same checks the processors make (so a line they would dead-letter is rejected here). */
function problem(line: Line, maxDeliveredBatch: number): string | null {
  switch (line.type) {
    case 'member_added':
    case 'member_removed':
      return firstProblem(
        idProblem('conversation_id', line.conversation_id),
        idProblem('user_id', line.user_id),
      );
    case 'message_sent':
      return firstProblem(
        idProblem('conversation_id', line.conversation_id),
        idProblem('message_id', line.message_id),
        idProblem('sender_id', line.sender_id),
        seqProblem('seq', line.seq),
      );
    case 'delivered': {
      const ids = line.message_ids;
      if ((ids === undefined) === (line.up_to_seq === undefined))
        return 'delivered needs exactly one of message_ids and up_to_seq';
      if (ids !== undefined && ids.length === 0) return 'message_ids is empty';
      if (ids !== undefined && ids.length > maxDeliveredBatch)
        return `message_ids has ${ids.length} ids, the limit is ${maxDeliveredBatch} (TICKS_MAX_DELIVERED_BATCH)`;
      return firstProblem(
        idProblem('conversation_id', line.conversation_id),
        idProblem('user_id', line.user_id),
        idProblem('device_id', line.device_id),
        line.up_to_seq === undefined ? null : seqProblem('up_to_seq', line.up_to_seq),
        ...(ids ?? []).map((m, i) => idProblem(`message_ids[${i}]`, m)),
      );
    }
    case 'read':
      if ((line.seq === undefined) === (line.message_id === undefined))
        return 'read needs exactly one of seq and message_id';
      return firstProblem(
        idProblem('conversation_id', line.conversation_id),
        idProblem('user_id', line.user_id),
        idProblem('device_id', line.device_id),
        line.seq === undefined ? null : seqProblem('seq', line.seq),
        line.message_id === undefined ? null : idProblem('message_id', line.message_id),
      );
    case 'message_deleted':
      return firstProblem(
        idProblem('conversation_id', line.conversation_id),
        idProblem('message_id', line.message_id),
        idProblem('deleted_by', line.deleted_by),
      );
    case 'marked_unread':
      return firstProblem(
        idProblem('conversation_id', line.conversation_id),
        idProblem('user_id', line.user_id),
        idProblem('device_id', line.device_id),
      );
    case 'settings':
      return firstProblem(
        idProblem('user_id', line.user_id),
        ...line.muted_conversations.map((m, i) =>
          idProblem(`muted_conversations[${i}].conversation_id`, m.conversation_id),
        ),
      );
  }
}

function epochMillis(at: number | string): number {
  return typeof at === 'number' ? at : Date.parse(at);
}

function zodMessage(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.join('.');
      if (i.code === 'unrecognized_keys') return `unknown field(s) ${i.keys.join(', ')}`;
      if (i.code === 'invalid_union' && i.path.length === 0) return i.message;
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}

/** Parses and checks one line of a backfill file into the input event it stands for. */
export function parseBackfillLine(text: string, maxDeliveredBatch: number): ParsedLine {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return { kind: 'skip' };
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch (err) {
    return { kind: 'reject', error: `not JSON: ${(err as Error).message}` };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return { kind: 'reject', error: 'not a JSON object' };
  const type = (json as { type?: unknown }).type;
  if (typeof type !== 'string' || !(TYPES as readonly string[]).includes(type))
    return {
      kind: 'reject',
      error: `${typeof type === 'string' ? `unknown type "${type}"` : 'missing "type"'}: one of ${TYPES.join(', ')}`,
    };
  const parsed = LINE.safeParse(json);
  if (!parsed.success) return { kind: 'reject', error: zodMessage(parsed.error) };
  const line = parsed.data;
  const bad = problem(line, maxDeliveredBatch);
  if (bad) return { kind: 'reject', error: bad };
  const at = epochMillis(line.at);
  const eventId = line.event_id ?? lineEventId(trimmed);
  return { kind: 'event', type: line.type, event: toEvent(line, eventId, at) };
}

function toEvent(line: Line, eventId: string, at: number): BackfillEvent {
  switch (line.type) {
    case 'settings':
      return {
        role: 'userSettings',
        key: line.user_id,
        value: {
          user_id: line.user_id,
          read_receipts_enabled: line.read_receipts_enabled,
          updated_at: at,
          version: at,
          muted_conversations: line.muted_conversations.map((m) => ({
            conversation_id: m.conversation_id,
            until: m.until === undefined || m.until === null ? null : epochMillis(m.until),
          })),
        },
      };
    case 'member_added':
    case 'member_removed':
    case 'message_sent':
    case 'message_deleted': {
      const payload: ConversationEvent['payload'] =
        line.type === 'message_deleted'
          ? {
              [TypeName.MessageDeleted]: {
                message_id: line.message_id,
                deleted_by: line.deleted_by,
                deleted_at: at,
              },
            }
          : line.type === 'member_added'
            ? { [TypeName.MemberAdded]: { user_id: line.user_id, kind: line.kind, added_at: at } }
            : line.type === 'member_removed'
              ? { [TypeName.MemberRemoved]: { user_id: line.user_id, removed_at: at } }
              : {
                  [TypeName.MessageSent]: {
                    message_id: line.message_id,
                    seq: line.seq,
                    sender_id: line.sender_id,
                    kind: line.kind,
                    sent_at: at,
                  },
                };
      return {
        role: 'conversationEvents',
        key: line.conversation_id,
        value: {
          event_id: eventId,
          conversation_id: line.conversation_id,
          occurred_at: at,
          payload,
        },
      };
    }
    case 'delivered':
    case 'read':
    case 'marked_unread': {
      const payload: ReceiptEvent['payload'] =
        line.type === 'marked_unread'
          ? { [TypeName.MarkedUnread]: {} }
          : line.type === 'delivered'
            ? {
                [TypeName.Delivered]: {
                  message_ids: line.message_ids ?? null,
                  up_to_seq: line.up_to_seq ?? null,
                },
              }
            : {
                [TypeName.ReadUpTo]: { seq: line.seq ?? null, message_id: line.message_id ?? null },
              };
      return {
        role: 'receiptEvents',
        key: line.conversation_id,
        value: {
          event_id: eventId,
          conversation_id: line.conversation_id,
          user_id: line.user_id,
          device_id: line.device_id,
          occurred_at: at,
          payload,
        },
      };
    }
  }
}
