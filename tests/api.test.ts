import { TicksHttpServer } from '../services/ticks-http-server';
import { apiClient } from './support/api-client';
import { createHarness, eventually, type Harness } from './support/harness';
import { startApiServer } from './support/api-server';

interface Receipts {
  delivered: Array<{ user_id: string; at: number | null }>;
  read: Array<{ user_id: string; at: number | null }>;
  total: number;
  seq: number;
  sender_id: string;
}

/** The query API on the real stack: every endpoint's happy path and each rejection. */
describe('query API', () => {
  let h: Harness;
  let server: TicksHttpServer;
  let call: ReturnType<typeof apiClient>;
  const token = (user: string, device?: string) => server.tokens.issue(user, device);
  const dm = 'api-dm';
  const group = 'api-group';

  beforeAll(async () => {
    h = await createHarness(
      { TICKS_API_MAX_BODY_BYTES: '2048', TICKS_MAX_DELIVERED_BATCH: '5' },
      { startPipeline: false },
    );
    h.publish.settings('Quiet', false); // Quiet does not share read receipts
    await h.publish.flush();
    await h.startPipeline();
    server = await startApiServer(h, {
      gateway: false,
    });
    call = apiClient(server.url);

    h.publish.memberAdded(dm, 'Ana', 'DIRECT').memberAdded(dm, 'Bo', 'DIRECT');
    for (const m of ['Ana', 'Bo', 'Quiet']) h.publish.memberAdded(group, m, 'GROUP');
    const t0 = Date.now() - 10_000;
    h.publish.messageSent(dm, {
      messageId: 'dm-1',
      seq: 1,
      senderId: 'Ana',
      kind: 'DIRECT',
      sentAt: t0,
    });
    h.publish.messageSent(dm, {
      messageId: 'dm-2',
      seq: 2,
      senderId: 'Ana',
      kind: 'DIRECT',
      sentAt: t0 + 1,
    });
    h.publish.messageSent(group, {
      messageId: 'g-1',
      seq: 1,
      senderId: 'Ana',
      kind: 'GROUP',
      sentAt: t0 + 2,
    });
    await h.publish.flush();
    await eventually('messages indexed', async () => (await h.read.unread(group, 'Quiet')) === 1);
    await eventually('dm indexed', async () => (await h.read.unread(dm, 'Bo')) === 2);
  });

  afterAll(async () => {
    await server?.stop();
    await h?.close();
  });

  describe('happy paths', () => {
    it('GET /v1/me/unread: per conversation, newest first, and the badge', async () => {
      const me = await eventually('badge of Bo has both sources', async () => {
        const answer = await call<{
          user_id: string;
          conversations: Array<Record<string, unknown>>;
          badge: { count: number; sources: string[] };
        }>('GET', '/v1/me/unread', { token: token('Bo') });
        return answer.body.badge?.count === 2 ? answer : undefined;
      });
      expect(me.status).toBe(200);
      expect(me.body.user_id).toBe('Bo');
      expect(me.body.conversations.map((c) => c.conversation_id)).toEqual([group, dm]);
      expect(me.body.conversations[1]).toMatchObject({
        conversation_id: dm,
        unread: 2,
        marked_unread: false,
        muted: false,
        muted_until: null,
        read_up_to_seq: 0,
        last_seq: 2,
      });
      // Every row says whether it is marked unread and muted (issue 14), whatever its state.
      for (const row of me.body.conversations)
        expect(row).toEqual(
          expect.objectContaining({
            marked_unread: expect.any(Boolean),
            muted: expect.any(Boolean),
            muted_until: row.muted_until === null ? null : expect.any(Number),
          }),
        );
      expect(me.body.badge.sources.sort()).toEqual(['Ana', group].sort());
    });

    it('GET /v1/me/unread pages with limit and next_cursor; a cursor it did not give is a 422', async () => {
      type Page = { conversations: Array<{ conversation_id: string }>; next_cursor: string | null };
      const first = await call<Page>('GET', '/v1/me/unread?limit=1', { token: token('Bo') });
      expect(first.body.conversations.map((c) => c.conversation_id)).toEqual([group]);
      expect(first.body.next_cursor).toEqual(expect.any(String));
      const second = await call<Page>(
        'GET',
        `/v1/me/unread?limit=1&cursor=${encodeURIComponent(first.body.next_cursor!)}`,
        { token: token('Bo') },
      );
      expect(second.body.conversations.map((c) => c.conversation_id)).toEqual([dm]);
      expect(second.body.next_cursor).toBeNull();
      const bad = await call('GET', '/v1/me/unread?cursor=bm90LWEtY3Vyc29y', {
        token: token('Bo'),
      });
      expect(bad.status).toBe(422);
      expect(bad.body).toMatchObject({
        error: 'invalid_request',
        message: expect.stringMatching(/cursor/),
      });
    });

    it('POST /v1/receipts/delivered → 202, then the receipts show Bo delivered', async () => {
      const answer = await call('POST', '/v1/receipts/delivered', {
        token: token('Bo', 'phone'),
        body: { conversation_id: dm, message_ids: ['dm-1'] },
      });
      expect(answer.status).toBe(202);
      expect(answer.body).toEqual({ accepted: true, event_id: expect.any(String) });
      const receipts = await eventually('Bo delivered dm-1', async () => {
        const r = await call<Receipts>('GET', `/v1/messages/${dm}/dm-1/receipts`, {
          token: token('Ana'),
        });
        return r.body.delivered?.length === 1 ? r.body : undefined;
      });
      expect(receipts).toMatchObject({ seq: 1, sender_id: 'Ana', total: 1, read: [] });
      expect(receipts.delivered[0]).toEqual({ user_id: 'Bo', at: expect.any(Number) });
    });

    it('POST /v1/receipts/read (by message id) → 202; receipts show read, unread drops to 0', async () => {
      const before = Date.now();
      const answer = await call('POST', '/v1/receipts/read', {
        token: token('Bo'),
        headers: { 'x-device-id': 'laptop' },
        body: { conversation_id: dm, up_to_message_id: 'dm-2' },
      });
      expect(answer.status).toBe(202);
      const receipts = await eventually('Bo read dm-1', async () => {
        const r = await call<Receipts>('GET', `/v1/messages/${dm}/dm-1/receipts`, {
          token: token('Bo'), // any member may look
        });
        return r.body.read?.length === 1 ? r.body : undefined;
      });
      expect(receipts.read[0]!.user_id).toBe('Bo');
      expect(receipts.read[0]!.at).toBeGreaterThanOrEqual(before - 1000);
      // Delivered by id earlier than the read: the earlier time is kept.
      expect(receipts.delivered[0]!.at).toBeLessThanOrEqual(receipts.read[0]!.at!);
      const me = await call<{ conversations: Array<{ conversation_id: string; unread: number }> }>(
        'GET',
        '/v1/me/unread',
        { token: token('Bo') },
      );
      expect(me.body.conversations.find((c) => c.conversation_id === dm)).toMatchObject({
        unread: 0,
        read_up_to_seq: 2,
      });
      // The read reached the pipeline with the header's device.
      const sync = await eventually('unread sync', () => h.out.updatesFor('Bo', 'UnreadSync')[0]);
      expect(sync.payload).toMatchObject({
        'dev.ticks.UnreadSync': { conversation_id: dm, origin_device_id: 'laptop' },
      });
    });

    it('POST /v1/receipts/read (by seq); privacy: a reader who opted out shows as delivered only', async () => {
      for (const reader of ['Quiet', 'Bo']) {
        const answer = await call('POST', '/v1/receipts/read', {
          token: token(reader),
          body: { conversation_id: group, seq: 1 },
        });
        expect(answer.status).toBe(202);
      }
      const receipts = await eventually('both reads applied', async () => {
        const r = await call<Receipts>('GET', `/v1/messages/${group}/g-1/receipts`, {
          token: token('Ana'),
        });
        return r.body.delivered?.length === 2 ? r.body : undefined;
      });
      expect(receipts.total).toBe(2);
      expect(receipts.read.map((r) => r.user_id)).toEqual(['Bo']);
      expect(receipts.delivered.map((r) => r.user_id).sort()).toEqual(['Bo', 'Quiet']);
      expect(await h.read.unread(group, 'Quiet')).toBe(0); // Quiet's own count still clears
    });

    it('GET /openapi.json documents every endpoint with bearer auth', async () => {
      const doc = await call<{
        openapi: string;
        paths: Record<string, unknown>;
        components: { securitySchemes: Record<string, unknown> };
      }>('GET', '/openapi.json');
      expect(doc.status).toBe(200);
      expect(doc.body.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.body.paths).sort()).toEqual(
        [
          '/v1/me/unread',
          '/v1/conversations/{conversation_id}/unread',
          '/v1/conversations/{conversation_id}/mute',
          '/v1/messages/{conversation_id}/{message_id}/receipts',
          '/v1/receipts/delivered',
          '/v1/receipts/read',
        ].sort(),
      );
      expect(doc.body.components.securitySchemes.bearerAuth).toMatchObject({ scheme: 'bearer' });
    });

    it('GET /openapi.json says the receipts of a deleted message answer 404', async () => {
      const doc = await call<{
        paths: Record<
          string,
          { get?: { description?: string; responses: Record<string, unknown> } }
        >;
      }>('GET', '/openapi.json');
      const receipts = doc.body.paths['/v1/messages/{conversation_id}/{message_id}/receipts']!.get!;
      expect(receipts.description).toMatch(/deleted message answers 404/);
      expect(Object.keys(receipts.responses)).toContain('404');
    });
  });

  describe('rejections', () => {
    const readBody = { conversation_id: dm, seq: 1 };

    it('401 without a token, with a forged token or one signed with another secret', async () => {
      const none = await call('POST', '/v1/receipts/read', { body: readBody });
      expect(none.status).toBe(401);
      expect(none.body).toEqual({
        error: 'unauthorized',
        message: expect.stringMatching(/Bearer/),
      });
      const forged = await call('GET', '/v1/me/unread', { token: `${token('Bo')}x` });
      expect(forged.status).toBe(401);
      const { TokenService } = await import('../auth/token-service');
      const otherKey = new TokenService({
        secret: 'x'.repeat(40),
        ttlSeconds: 60,
        maxLifetimeSeconds: 60,
      }).issue('Bo');
      expect((await call('GET', '/v1/me/unread', { token: otherKey })).status).toBe(401);
      expect(
        (await call('GET', '/v1/me/unread', { headers: { authorization: 'Basic Ym86cHc=' } }))
          .status,
      ).toBe(401);
    });

    it("403 for someone else's receipts", async () => {
      const answer = await call('POST', '/v1/receipts/read', {
        token: token('Bo'),
        body: { ...readBody, user_id: 'Ana' },
      });
      expect(answer.status).toBe(403);
      expect(answer.body).toEqual({
        error: 'forbidden',
        message: expect.stringContaining('only your own receipts'),
      });
    });

    it('403 for the receipts of a conversation the caller is not in (known or not); 404 for an unknown message', async () => {
      const stranger = await call('GET', `/v1/messages/${dm}/dm-1/receipts`, {
        token: token('Mallory'),
      });
      expect(stranger.status).toBe(403);
      expect(stranger.body.error).toBe('forbidden');
      const unknownConversation = await call('GET', `/v1/messages/nowhere/dm-1/receipts`, {
        token: token('Mallory'),
      });
      expect(unknownConversation.status).toBe(403);
      const unknownMessage = await call('GET', `/v1/messages/${dm}/nope/receipts`, {
        token: token('Ana'),
      });
      expect(unknownMessage.status).toBe(404);
      expect(unknownMessage.body.error).toBe('not_found');
    });

    it('404 for the receipts of a deleted message (a member asking, the sender too)', async () => {
      const c = 'api-deleted';
      h.publish.memberAdded(c, 'Ana', 'GROUP').memberAdded(c, 'Dee', 'GROUP');
      h.publish.messageSent(c, { messageId: 'del-1', seq: 1, senderId: 'Ana', kind: 'GROUP' });
      h.publish.messageSent(c, { messageId: 'del-2', seq: 2, senderId: 'Ana', kind: 'GROUP' });
      await h.publish.flush();
      await eventually('found', async () => {
        const r = await call('GET', `/v1/messages/${c}/del-1/receipts`, { token: token('Dee') });
        return r.status === 200;
      });
      h.publish.messageDeleted(c, 'del-1', 'Ana');
      await h.publish.flush();
      const gone = await eventually('404', async () => {
        const r = await call('GET', `/v1/messages/${c}/del-1/receipts`, { token: token('Dee') });
        return r.status === 404 ? r : undefined;
      });
      expect(gone.body).toEqual({
        error: 'not_found',
        message: `message del-1 was deleted from conversation ${c}: it has no receipts`,
      });
      const bySender = await call('GET', `/v1/messages/${c}/del-1/receipts`, {
        token: token('Ana'),
      });
      expect(bySender.status).toBe(404);
      // The other message is untouched; a stranger still learns nothing (403, not 404).
      const other = await call('GET', `/v1/messages/${c}/del-2/receipts`, { token: token('Dee') });
      expect(other.status).toBe(200);
      const stranger = await call('GET', `/v1/messages/${c}/del-1/receipts`, {
        token: token('Mallory'),
      });
      expect(stranger.status).toBe(403);
    });

    it('403 for receipts a non-member reports (known conversation or not): nothing is produced', async () => {
      for (const conversation of [dm, 'nowhere']) {
        const answer = await call('POST', '/v1/receipts/read', {
          token: token('Mallory'),
          body: { conversation_id: conversation, seq: 1 },
        });
        expect(answer.status).toBe(403);
        expect(answer.body).toEqual({
          error: 'forbidden',
          message: `you are not a member of conversation ${conversation}`,
        });
      }
      const delivered = await call('POST', '/v1/receipts/delivered', {
        token: token('Mallory'),
        body: { conversation_id: group, message_ids: ['g-1'] },
      });
      expect(delivered.status).toBe(403);
    });

    it('429 with Retry-After once a user passes TICKS_API_RATE_LIMIT_PER_MINUTE; others go on', async () => {
      const limited = await startApiServer(h, {
        config: { ...h.config, api: { ...h.config.api, rateLimitPerMinute: 3 } },
        gateway: false,
      });
      try {
        const callLimited = apiClient(limited.url);
        const statuses = [];
        for (let i = 0; i < 4; i++)
          statuses.push(
            (await callLimited('GET', '/v1/me/unread', { token: limited.tokens.issue('Bo') }))
              .status,
          );
        expect(statuses).toEqual([200, 200, 200, 429]);
        const refused = await callLimited('POST', '/v1/receipts/read', {
          token: limited.tokens.issue('Bo'),
          body: { conversation_id: dm, seq: 1 },
        });
        expect(refused.status).toBe(429);
        expect(refused.headers['retry-after']).toMatch(/^\d+$/);
        expect(refused.body).toEqual({
          error: 'rate_limited',
          message: expect.stringContaining('TICKS_API_RATE_LIMIT_PER_MINUTE'),
        });
        // Per user: Ana still has her requests.
        expect(
          (await callLimited('GET', '/v1/me/unread', { token: limited.tokens.issue('Ana') }))
            .status,
        ).toBe(200);
      } finally {
        await limited.stop();
      }
    });

    it('422 for invalid bodies and a batch over the limit', async () => {
      const cases: Array<[string, unknown, RegExp]> = [
        ['/v1/receipts/read', { seq: 1 }, /conversation_id/],
        ['/v1/receipts/read', { conversation_id: dm }, /exactly one/],
        [
          '/v1/receipts/read',
          { conversation_id: dm, seq: 1, up_to_message_id: 'dm-1' },
          /exactly one/,
        ],
        ['/v1/receipts/read', { conversation_id: dm, seq: 0 }, /seq/],
        ['/v1/receipts/read', { conversation_id: dm, seq: 1, extra: true }, /additional/],
        ['/v1/receipts/delivered', { conversation_id: dm, message_ids: [] }, /message_ids/],
        ['/v1/receipts/delivered', { conversation_id: '', message_ids: ['a'] }, /conversation_id/],
        [
          '/v1/receipts/delivered',
          { conversation_id: dm, message_ids: ['1', '2', '3', '4', '5', '6'] },
          /at most 5.*TICKS_MAX_DELIVERED_BATCH/,
        ],
      ];
      for (const [path, body, message] of cases) {
        const answer = await call('POST', path, { token: token('Bo'), body });
        expect({ path, body, status: answer.status }).toEqual({ path, body, status: 422 });
        expect(answer.body.error).toBe('invalid_request');
        expect(answer.body.message).toMatch(message);
      }
      const malformed = await call('POST', '/v1/receipts/read', {
        token: token('Bo'),
        rawBody: '{"conversation_id": ',
      });
      expect(malformed.status).toBe(400);
      expect(malformed.body.error).toBe('malformed_json');
    });

    it('413 for a body over TICKS_API_MAX_BODY_BYTES', async () => {
      const ids = Array.from({ length: 5 }, (_, i) => `${i}-${'x'.repeat(198)}`);
      const answer = await call('POST', '/v1/receipts/delivered', {
        token: token('Bo'),
        body: { conversation_id: dm, message_ids: [...ids, ...ids, ...ids] },
      });
      expect(answer.status).toBe(413);
      expect(answer.body).toEqual({
        error: 'payload_too_large',
        message: expect.stringContaining('2048 bytes'),
      });
    });

    it('404 with a JSON body for an unknown route', async () => {
      const answer = await call('GET', '/v1/nothing', { token: token('Bo') });
      expect(answer.status).toBe(404);
      expect(answer.body.error).toBe('not_found');
    });
  });
});
