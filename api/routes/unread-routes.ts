import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ReadModel } from '../../stores/redis/read-model';
import { principalOf } from '../../auth/authenticate';
import { UnreadQuery, UnreadResponse, errorResponses } from '../schemas';
import { decodeCursor, encodeCursor } from '../unread-cursor';
import { SerialisedBodies } from './serialised-bodies';

export interface UnreadRoutesOptions {
  readModel: ReadModel;
  /** The user's conversations muted at `now` → until (null: until unmuted). */
  mutedConversations(userId: string, now: number): Map<string, number | null>;
  now?: () => number;
}

/**
 * The caller's unread counts per conversation, newest first, a page at a time (limit, cursor),
 * and their unread-senders badge. A muted conversation keeps its count and leaves the badge; its
 * mute is checked at each request, so one that ends needs no timer.
 */
export const unreadRoutes: FastifyPluginAsyncTypebox<UnreadRoutesOptions> = async (app, o) => {
  const now = o.now ?? Date.now;
  // A held page (ReadModel: the same object while nothing on it changed) is serialised once per
  // set of mutes.
  const unreadBodies = new SerialisedBodies();
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
    async (request, reply) => {
      const { userId } = principalOf(request);
      const { limit, cursor } = request.query;
      const page = await o.readModel.unreadPage(userId, {
        limit,
        after: cursor === undefined ? undefined : decodeCursor(cursor),
      });
      const muted = o.mutedConversations(userId, now());
      // Read for every muted conversation, not only those of the page: it is the whole badge.
      const hidden = await o.readModel.badgeSourcesOf([...muted.keys()], userId);
      // What the body depends on besides the page: the mutes in force and the sources they hide.
      const signature = muted.size === 0 ? '' : JSON.stringify([[...muted], [...hidden].sort()]);
      return unreadBodies.send(reply, page, signature, () => {
        const sources = page.badge.filter((s) => !hidden.has(s));
        return {
          user_id: userId,
          conversations: page.conversations.map((c) => ({
            conversation_id: c.conversationId,
            unread: c.unread,
            marked_unread: c.markedUnread,
            muted: muted.has(c.conversationId),
            muted_until: muted.get(c.conversationId) ?? null,
            read_up_to_seq: c.readUpToSeq,
            last_seq: c.lastSeq,
            last_at: c.lastAt,
          })),
          next_cursor: page.next ? encodeCursor(page.next) : null,
          badge: { count: sources.length, sources },
        } satisfies UnreadResponse;
      });
    },
  );
};
