import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SerialisedBodies } from './serialised-bodies';
import { TypeName } from '../../schemas/types';
import type { ReceiptDetailsSource } from '../../stores/receipt-details-source';
import type { EventPublisher } from '../../runtime/event-publisher';
import { ForbiddenError, NotFoundError, UnprocessableError } from '../api-errors';
import { member, produce, type IsMember } from './receipt-event';
import { principalOf } from '../../auth/authenticate';
import type { Principal } from '../../auth/token-service';
import {
  Accepted,
  DeliveredBody,
  ReadBody,
  ReceiptsParams,
  ReceiptsQuery,
  ReceiptsResponse,
  errorResponses,
} from '../schemas';

export interface ReceiptRoutesOptions {
  /** A publisher per request: its queue is the request's own. */
  publisher(): EventPublisher;
  /** Whether the user is a member of the conversation (as the pipeline last applied). */
  isMember: IsMember;
  receiptDetails: ReceiptDetailsSource;
  sharesReads(userId: string): boolean;
  maxDeliveredBatch: number;
}

const bearer = [{ bearerAuth: [] }];

/**
 * Receipts: clients report delivered and read (validated, then produced as receipt events; the
 * pipeline applies them, this never writes state), and members read a message's receipts.
 */
export const receiptRoutes: FastifyPluginAsyncTypebox<ReceiptRoutesOptions> = async (app, o) => {
  // A held answer (RedisReceiptDetails: the same object while the state is unchanged) is
  // serialised once per set of readers sharing reads: a group of 200 not on every request.
  const receiptBodies = new SerialisedBodies();
  app.post(
    '/v1/receipts/delivered',
    {
      schema: {
        summary: 'Report messages received by a device',
        tags: ['receipts'],
        security: bearer,
        body: DeliveredBody,
        response: { 202: Accepted, ...errorResponses },
      },
    },
    async (request, reply) => {
      const caller = principalOf(request);
      const body = request.body;
      ownReceipt(caller, body.user_id);
      await member(o, caller, body.conversation_id);
      if (body.message_ids.length > o.maxDeliveredBatch)
        throw new UnprocessableError(
          `message_ids has ${body.message_ids.length} ids; at most ${o.maxDeliveredBatch} per request (TICKS_MAX_DELIVERED_BATCH)`,
        );
      const eventId = await produce(o.publisher(), caller, request.headers, body.conversation_id, {
        [TypeName.Delivered]: { message_ids: [...new Set(body.message_ids)], up_to_seq: null },
      });
      return reply.code(202).send({ accepted: true, event_id: eventId });
    },
  );

  app.post(
    '/v1/receipts/read',
    {
      schema: {
        summary: 'Report that the user read a conversation up to a message',
        tags: ['receipts'],
        security: bearer,
        body: ReadBody,
        response: { 202: Accepted, ...errorResponses },
      },
    },
    async (request, reply) => {
      const caller = principalOf(request);
      const body = request.body;
      ownReceipt(caller, body.user_id);
      await member(o, caller, body.conversation_id);
      if ((body.seq === undefined) === (body.up_to_message_id === undefined))
        throw new UnprocessableError('give exactly one of up_to_message_id and seq');
      const eventId = await produce(o.publisher(), caller, request.headers, body.conversation_id, {
        [TypeName.ReadUpTo]: {
          seq: body.seq ?? null,
          message_id: body.up_to_message_id ?? null,
        },
      });
      return reply.code(202).send({ accepted: true, event_id: eventId });
    },
  );

  app.get(
    '/v1/messages/:conversation_id/:message_id/receipts',
    {
      schema: {
        summary: "A message's receipts: who received it and who read it, and when",
        description:
          'Any member may look. A deleted message answers 404 (not_found), as an unknown one does: it has no receipts any more. A non-member, or an unknown conversation, answers 403.',
        tags: ['receipts'],
        security: bearer,
        params: ReceiptsParams,
        querystring: ReceiptsQuery,
        response: { 200: ReceiptsResponse, 404: errorResponses[403], ...errorResponses },
      },
    },
    async (request, reply) => {
      const caller = principalOf(request);
      const { conversation_id: conversationId, message_id: messageId } = request.params;
      const found = await o.receiptDetails.lookup({
        conversationId,
        messageId,
        viewer: caller.userId,
        seq: request.query.seq,
      });
      // Unknown conversations answer like foreign ones: a non-member learns nothing.
      if (found.status === 'no_conversation' || found.status === 'not_member')
        throw new ForbiddenError(`you are not a member of conversation ${conversationId}`);
      if (found.status === 'no_message')
        throw new NotFoundError(`no message ${messageId} in conversation ${conversationId}`);
      if (found.status === 'deleted')
        throw new NotFoundError(
          `message ${messageId} was deleted from conversation ${conversationId}: it has no receipts`,
        );
      // Privacy: a reader who turned read receipts off shows as delivered, never as read.
      const shares = found.recipients.map((r) => r.read && o.sharesReads(r.userId));
      const sharing = shares.map((yes) => (yes ? '1' : '0')).join('');
      return receiptBodies.send(reply, found, sharing, () => {
        const delivered = [];
        const read = [];
        for (const [i, r] of found.recipients.entries()) {
          if (r.delivered) delivered.push({ user_id: r.userId, at: r.deliveredAt });
          if (shares[i]) read.push({ user_id: r.userId, at: r.readAt });
        }
        return {
          conversation_id: conversationId,
          message_id: messageId,
          seq: found.message.seq,
          sender_id: found.message.senderId,
          sent_at: found.message.sentAt,
          delivered,
          read,
          total: found.recipients.length,
        } satisfies ReceiptsResponse;
      });
    },
  );
};

function ownReceipt(caller: Principal, userId: string | undefined): void {
  if (userId !== undefined && userId !== caller.userId)
    throw new ForbiddenError(
      `you are ${caller.userId}: you can report only your own receipts, not ${userId}'s`,
    );
}
