import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ConversationUnread, ReadModel } from '../../stores/redis/read-model';
import { principalOf } from '../../auth/authenticate';
import { UnreadQuery, UnreadResponse, errorResponses } from '../schemas';

export interface UnreadRoutesOptions {
  readModel: ReadModel;
  /** The user's conversations muted at `now` → until (null: until unmuted). */
  mutedConversations(userId: string, now: number): Map<string, number | null>;
  now?: () => number;
}

/**
 * The caller's unread counts per conversation, newest first, and their unread-senders badge. A
 * muted conversation keeps its count and leaves the badge; its mute is checked at each request,
 * so one that ends needs no timer.
 */
export const unreadRoutes: FastifyPluginAsyncTypebox<UnreadRoutesOptions> = async (app, o) => {
  const now = o.now ?? Date.now;
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
      const muted = o.mutedConversations(userId, now());
      const hidden = await mutedSources(o.readModel, userId, unread, muted);
      const sources = badge.filter((s) => !hidden.has(s));
      return {
        user_id: userId,
        conversations: unread.slice(0, request.query.limit).map((c) => ({
          conversation_id: c.conversationId,
          unread: c.unread,
          marked_unread: c.markedUnread,
          muted: muted.has(c.conversationId),
          muted_until: muted.get(c.conversationId) ?? null,
          read_up_to_seq: c.readUpToSeq,
          last_seq: c.lastSeq,
          last_at: c.lastAt,
        })),
        badge: { count: sources.length, sources },
      };
    },
  );
};

/** The badge sources muted conversations stand for: the group, or a direct chat's peer. */
async function mutedSources(
  readModel: ReadModel,
  userId: string,
  conversations: readonly ConversationUnread[],
  muted: ReadonlyMap<string, number | null>,
): Promise<Set<string>> {
  const mutedHere = conversations.filter((c) => muted.has(c.conversationId));
  const sources = await Promise.all(
    mutedHere.map(async (c) =>
      c.kind === 'DIRECT'
        ? (await readModel.members(c.conversationId)).filter((m) => m !== userId)
        : [c.conversationId],
    ),
  );
  return new Set(sources.flat());
}
