import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ForbiddenError, NotFoundError } from '../api-errors';
import { authenticate, principalOf } from '../../auth/authenticate';
import type { TokenService } from '../../auth/token-service';
import type { DemoUpstream } from './demo-upstream';

export interface DemoRoutesOptions {
  upstream: DemoUpstream;
  tokens: TokenService;
}

const PUBLIC = path.join(__dirname, 'public');
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'demo.js': 'text/javascript; charset=utf-8',
  'demo.css': 'text/css; charset=utf-8',
};

/**
 * DEMO ONLY: the page at /demo/ and the upstream simulation it needs (/demo/api/...): a session
 * with tokens for the demo users, sending and deleting messages, and reading message texts. Receipts, unread
 * counts and ticks go through the real query API and gateway.
 */
export async function demoRoutes(app: FastifyInstance, o: DemoRoutesOptions): Promise<void> {
  const files = new Map(
    Object.entries(FILES).map(([name, type]) => [
      name,
      { type, body: readFileSync(path.join(PUBLIC, name)) },
    ]),
  );
  const hidden = { schema: { hide: true } };

  app.get('/demo', hidden, async (_request, reply) => reply.redirect('/demo/'));
  app.get('/', hidden, async (_request, reply) => reply.redirect('/demo/'));
  app.get<{ Params: { file?: string } }>('/demo/:file', hidden, async (request, reply) => {
    const file = files.get(request.params.file || 'index.html');
    if (!file) throw new NotFoundError(`no demo file ${request.params.file}`);
    return reply.type(file.type).header('cache-control', 'no-store').send(file.body);
  });
  app.get('/demo/', hidden, async (_request, reply) => {
    const file = files.get('index.html')!;
    return reply.type(file.type).header('cache-control', 'no-store').send(file.body);
  });

  app.get('/demo/api/session', hidden, async () => ({
    notice: 'DEMO ONLY: tokens are minted for anyone who asks',
    users: o.upstream.users.map((u) => ({
      user_id: u.userId,
      name: u.name,
      token: o.tokens.issue(u.userId, `web-${u.name.toLowerCase()}`),
    })),
    conversations: o.upstream.conversations.map((c) => ({
      conversation_id: c.conversationId,
      kind: c.kind,
      title: c.title,
      members: c.members,
    })),
  }));

  await app.register(async (scope) => {
    scope.addHook('onRequest', authenticate(o.tokens));
    const memberOf = (conversationId: string, userId: string) => {
      const c = o.upstream.conversation(conversationId);
      if (!c) throw new NotFoundError(`no demo conversation ${conversationId}`);
      if (!c.members.includes(userId))
        throw new ForbiddenError(`you are not a member of ${conversationId}`);
      return c;
    };

    scope.get<{ Params: { id: string }; Querystring: { after?: string } }>(
      '/demo/api/conversations/:id/messages',
      hidden,
      async (request) => {
        const c = memberOf(request.params.id, principalOf(request).userId);
        return {
          messages: o.upstream.messagesAfter(
            c.conversationId,
            Number(request.query.after ?? 0) || 0,
          ),
          deleted: o.upstream.deleted(c.conversationId),
        };
      },
    );

    scope.post<{ Params: { id: string }; Body: { text: string } }>(
      '/demo/api/conversations/:id/messages',
      {
        schema: {
          hide: true,
          body: {
            type: 'object',
            required: ['text'],
            properties: { text: { type: 'string', minLength: 1, maxLength: 2000 } },
          },
        },
      },
      async (request, reply) => {
        const userId = principalOf(request).userId;
        const c = memberOf(request.params.id, userId);
        return reply.code(201).send(await o.upstream.send(c, userId, request.body.text));
      },
    );

    scope.delete<{ Params: { id: string; messageId: string } }>(
      '/demo/api/conversations/:id/messages/:messageId',
      hidden,
      async (request, reply) => {
        const userId = principalOf(request).userId;
        const c = memberOf(request.params.id, userId);
        if (!(await o.upstream.delete(c, userId, request.params.messageId)))
          throw new ForbiddenError(`${request.params.messageId} is not a message of yours`);
        return reply.code(204).send();
      },
    );
  });
}
