import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ReadModel } from '../../stores/redis/read-model';
import { principalOf } from '../../auth/authenticate';
import { UnreadQuery, UnreadResponse, errorResponses } from '../schemas';
import { decodeCursor, encodeCursor } from '../unread-cursor';

export interface UnreadRoutesOptions {
  readModel: ReadModel;
}

/**
 * The caller's unread counts per conversation, newest first, a page at a time (limit, cursor),
 * and their unread-senders badge.
 */
export const unreadRoutes: FastifyPluginAsyncTypebox<UnreadRoutesOptions> = async (app, o) => {
  app.get(
    '/v1/me/unread',
    {
      schema: {
        summary: "The caller's unread counts per conversation and unread-senders badge",
        tags: ['unread'],
        security: [{ bearerAuth: [] }],
        querystring: UnreadQuery,
        response: { 200: UnreadResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { userId } = principalOf(request);
      const { limit, cursor } = request.query;
      const page = await o.readModel.unreadPage(userId, {
        limit,
        after: cursor === undefined ? undefined : decodeCursor(cursor),
      });
      return {
        user_id: userId,
        conversations: page.conversations.map((c) => ({
          conversation_id: c.conversationId,
          unread: c.unread,
          read_up_to_seq: c.readUpToSeq,
          last_seq: c.lastSeq,
          last_at: c.lastAt,
        })),
        next_cursor: page.next ? encodeCursor(page.next) : null,
        badge: { count: page.badge.length, sources: page.badge },
      };
    },
  );
};
