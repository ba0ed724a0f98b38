import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { TypeName, type ConversationMute, type UserSettings } from '../../schemas/types';
import type { EventPublisher } from '../../runtime/event-publisher';
import { principalOf } from '../../auth/authenticate';
import { UnavailableError, UnprocessableError } from '../api-errors';
import { Accepted, ConversationParams, MuteBody, MuteResponse, errorResponses } from '../schemas';
import { member, produce, type IsMember } from './receipt-event';

/** The user_settings global table as the API sees it (the services layer hands it over). */
export interface UserSettingsView {
  current(userId: string): {
    readReceiptsEnabled: boolean;
    mutes: ConversationMute[];
    version: number;
  };
  /** Applies a record this process produced, so its own answers show it at once. */
  apply(settings: UserSettings): void;
}

export interface ConversationRoutesOptions {
  publisher(): EventPublisher;
  isMember: IsMember;
  settings: UserSettingsView;
  now?: () => number;
}

const bearer = [{ bearerAuth: [] }];

/**
 * What a user does to a conversation beyond reading it: mark it unread (a receipt event, applied
 * by the pipeline like a read) and mute it (their settings record on the compacted user_settings
 * topic, like the read receipts setting).
 */
export const conversationRoutes: FastifyPluginAsyncTypebox<ConversationRoutesOptions> = async (
  app,
  o,
) => {
  const now = o.now ?? Date.now;

  app.post(
    '/v1/conversations/:conversation_id/unread',
    {
      schema: {
        summary: 'Mark a conversation as unread',
        description:
          'It shows at least 1 unread and joins the badge, with no watermark moving back, until the user next reads it (from any device). The user’s other devices get the unread sync; senders are told nothing.',
        tags: ['unread'],
        security: bearer,
        params: ConversationParams,
        response: { 202: Accepted, ...errorResponses },
      },
    },
    async (request, reply) => {
      const caller = principalOf(request);
      const { conversation_id: conversationId } = request.params;
      await member(o, caller, conversationId);
      const eventId = await produce(o.publisher(), caller, request.headers, conversationId, {
        [TypeName.MarkedUnread]: {},
      });
      return reply.code(202).send({ accepted: true, event_id: eventId });
    },
  );

  app.put(
    '/v1/conversations/:conversation_id/mute',
    {
      schema: {
        summary: 'Mute or unmute a conversation',
        description:
          'A muted conversation keeps its unread count but leaves the badge until unmuted or until `until`. Stored as the user’s settings (compacted user_settings topic).',
        tags: ['unread'],
        security: bearer,
        params: ConversationParams,
        body: MuteBody,
        response: { 200: MuteResponse, ...errorResponses },
      },
    },
    async (request) => {
      const caller = principalOf(request);
      const { conversation_id: conversationId } = request.params;
      const { muted } = request.body;
      const until = request.body.until ?? null;
      await member(o, caller, conversationId);
      const at = now();
      if (muted && until !== null && until <= at)
        throw new UnprocessableError(`until (${until}) must be in the future (now is ${at})`);
      const current = o.settings.current(caller.userId);
      const mutes = current.mutes.filter((m) => m.conversation_id !== conversationId);
      if (muted) mutes.push({ conversation_id: conversationId, until });
      const settings: UserSettings = {
        user_id: caller.userId,
        read_receipts_enabled: current.readReceiptsEnabled,
        updated_at: at,
        // Above the last one whatever the clocks: an older record never replaces it.
        version: Math.max(current.version + 1, at),
        muted_conversations: mutes,
      };
      try {
        await o.publisher().encoded('userSettings', caller.userId, settings).flush();
      } catch (err) {
        throw new UnavailableError(
          `the mute could not be recorded: producing the settings record failed (${err instanceof Error ? err.name : 'error'}); retry after the Retry-After delay`,
          { cause: err },
        );
      }
      o.settings.apply(settings);
      return { conversation_id: conversationId, muted, until: muted ? until : null };
    },
  );
};
