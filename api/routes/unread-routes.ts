import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ReadModel } from '../../stores/redis/read-model';
import { principalOf } from '../../auth/authenticate';
import { UnreadQuery, UnreadResponse, errorResponses } from '../schemas';

export interface UnreadRoutesOptions {
  readModel: ReadModel;
}

/** The caller's unread counts per conversation, newest first, and their unread-senders badge. */
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
      const ids = await o.readModel.conversations(userId);
      const [unread, badge] = await Promise.all([
        o.readModel.unreadMany(ids, userId),
        o.readModel.badge(userId),
      ]);
      return {
        user_id: userId,
        conversations: unread.slice(0, request.query.limit).map((c) => ({
          conversation_id: c.conversationId,
          unread: c.unread,
          read_up_to_seq: c.readUpToSeq,
          last_seq: c.lastSeq,
          last_at: c.lastAt,
        })),
        badge: { count: badge.length, sources: badge },
      };
    },
  );
};
