import { TypeName } from '../schemas/types';
import { TicksHttpServer } from '../services/ticks-http-server';
import { apiClient } from './support/api-client';
import { createHarness, eventually, type Harness } from './support/harness';
import { startApiServer } from './support/api-server';

interface Unread {
  conversations: Array<{
    conversation_id: string;
    unread: number;
    marked_unread: boolean;
    muted: boolean;
    muted_until: number | null;
  }>;
  badge: { count: number; sources: string[] };
}

/**
 * Issue 14 through the query API on the real stack: mark as unread, mute (with an end that comes
 * while messages arrive), a deleted message's receipts (404), and each rejection.
 */
describe('query API: mark unread, mute, deleted messages', () => {
  let h: Harness;
  let server: TicksHttpServer;
  let call: ReturnType<typeof apiClient>;
  const token = (user: string, device?: string) => server.tokens.issue(user, device);
  const dm = 'ua-api-dm';
  const group = 'ua-api-group';
  let seq = 0;
  const send = (c: string, senderId: string, kind: 'DIRECT' | 'GROUP') => {
    seq++;
    h.publish.messageSent(c, { messageId: `${c}-${seq}`, seq, senderId, kind });
    return `${c}-${seq}`;
  };
  const unreadOf = async (user: string, s = server) =>
    (await apiClient(s.url)<Unread>('GET', '/v1/me/unread', { token: token(user) })).body;
  const entry = (u: Unread, c: string) => u.conversations.find((x) => x.conversation_id === c)!;

  beforeAll(async () => {
    h = await createHarness({});
    server = await startApiServer(h, {
      gateway: false,
    });
    call = apiClient(server.url);
    h.publish.memberAdded(dm, 'Ana', 'DIRECT').memberAdded(dm, 'Bo', 'DIRECT');
    for (const m of ['Ana', 'Bo', 'Cy']) h.publish.memberAdded(group, m, 'GROUP');
    await h.publish.flush();
    await eventually('members', async () => (await h.read.members(group)).length === 3);
  });
  afterAll(async () => {
    await server?.stop();
    await h?.close();
  });

  it('POST …/unread marks a read conversation unread; a read from another device clears it', async () => {
    const id = send(dm, 'Ana', 'DIRECT');
    h.publish.read(dm, 'Bo', { messageId: id });
    await h.publish.flush();
    await eventually('read', async () => entry(await unreadOf('Bo'), dm)?.unread === 0);
    const answer = await call('POST', `/v1/conversations/${dm}/unread`, {
      token: token('Bo', 'phone'),
    });
    expect(answer.status).toBe(202);
    const marked = await eventually('marked', async () => {
      const u = await unreadOf('Bo');
      return entry(u, dm).marked_unread ? u : undefined;
    });
    expect(entry(marked, dm)).toMatchObject({ unread: 1, muted: false });
    expect(marked.badge.sources).toContain('Ana');
    const read = await call('POST', '/v1/receipts/read', {
      token: token('Bo', 'laptop'),
      body: { conversation_id: dm, up_to_message_id: id },
    });
    expect(read.status).toBe(202);
    const cleared = await eventually('cleared', async () => {
      const u = await unreadOf('Bo');
      return !entry(u, dm).marked_unread ? u : undefined;
    });
    expect(entry(cleared, dm).unread).toBe(0);
    await eventually(
      'badge cleared',
      async () => !(await unreadOf('Bo')).badge.sources.includes('Ana'),
    );
  });

  it('PUT …/mute: the count stays, the badge leaves until the mute ends while messages arrive', async () => {
    const until = Date.now() + 4_000;
    const muted = await call('PUT', `/v1/conversations/${group}/mute`, {
      token: token('Cy'),
      body: { until },
    });
    expect(muted.status).toBe(200);
    expect(muted.body).toEqual({ conversation_id: group, muted: true, until });
    send(group, 'Ana', 'GROUP');
    await h.publish.flush();
    const during = await eventually('one unread, muted', async () => {
      const u = await unreadOf('Cy');
      return entry(u, group)?.unread === 1 ? u : undefined;
    });
    expect(entry(during, group)).toMatchObject({ muted: true, muted_until: until });
    expect(during.badge).toEqual({ count: 0, sources: [] });
    expect(await h.read.badge('Cy')).toEqual([group]); // kept: only the answer leaves it out
    send(group, 'Bo', 'GROUP');
    await h.publish.flush();
    await eventually('two unread, still muted', async () => {
      const u = await unreadOf('Cy');
      return entry(u, group).unread === 2 && u.badge.count === 0;
    });
    // The mute ends by itself while messages keep coming: the badge comes back.
    send(group, 'Ana', 'GROUP');
    await h.publish.flush();
    const after = await eventually(
      'mute ended',
      async () => {
        const u = await unreadOf('Cy');
        return !entry(u, group).muted && entry(u, group).unread === 3 ? u : undefined;
      },
      15_000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(until); // not before its end
    expect(entry(after, group)).toMatchObject({ muted: false, muted_until: null });
    expect(after.badge).toEqual({ count: 1, sources: [group] });
  });

  it('a direct chat muted until unmuted hides the peer; another process reads the mute from the compacted topic; unmute', async () => {
    send(dm, 'Ana', 'DIRECT');
    await h.publish.flush();
    await eventually('Ana in the badge', async () =>
      (await unreadOf('Bo')).badge.sources.includes('Ana'),
    );
    const answer = await call('PUT', `/v1/conversations/${dm}/mute`, {
      token: token('Bo'),
      body: {},
    });
    expect(answer.body).toEqual({ conversation_id: dm, muted: true, until: null });
    expect((await unreadOf('Bo')).badge.sources).not.toContain('Ana');
    const other = await startApiServer(h, {
      gateway: false,
    });
    try {
      const seen = await unreadOf('Bo', other);
      expect(entry(seen, dm)).toMatchObject({ muted: true, muted_until: null });
      expect(seen.badge.sources).not.toContain('Ana');
    } finally {
      await other.stop();
    }
    const unmuted = await call('PUT', `/v1/conversations/${dm}/mute`, {
      token: token('Bo'),
      body: { muted: false },
    });
    expect(unmuted.body).toEqual({ conversation_id: dm, muted: false, until: null });
    expect((await unreadOf('Bo')).badge.sources).toContain('Ana');
  });

  it("a pushed unread sync's badge_count is the API's badge: muted conversations left out while muted, back once the mute ends", async () => {
    const g = 'ua-api-sync-group';
    const d = 'ua-api-sync-dm';
    for (const m of ['Dee', 'Eve']) h.publish.memberAdded(g, m, 'GROUP');
    h.publish.memberAdded(d, 'Dee', 'DIRECT').memberAdded(d, 'Fay', 'DIRECT');
    h.publish.messageSent(g, { messageId: `${g}-1`, seq: 1, senderId: 'Eve', kind: 'GROUP' });
    for (const s of [1, 2])
      h.publish.messageSent(d, { messageId: `${d}-${s}`, seq: s, senderId: 'Fay', kind: 'DIRECT' });
    await h.publish.flush();
    await eventually('both unread', async () => (await unreadOf('Dee')).badge.count === 2);

    /** A read of the chat with Fay that leaves it unread: each one pushes Dee a sync. */
    const syncedBadge = async (): Promise<number> => {
      const before = h.out.updatesFor('Dee', 'UnreadSync').length;
      h.publish.read(d, 'Dee', { seq: 1 }, 'phone');
      await h.publish.flush();
      const sync = await eventually('a sync', () =>
        h.out.updatesFor('Dee', 'UnreadSync').at(before),
      );
      return (sync.payload as { [TypeName.UnreadSync]: { badge_count: number } })[
        TypeName.UnreadSync
      ].badge_count;
    };
    /** The pipeline learns a mute from the settings topic a moment after the API: read again. */
    const bothSay = async (what: string, count: number, timeoutMs?: number) => {
      await eventually(
        what,
        async () =>
          (await syncedBadge()) === count && (await unreadOf('Dee')).badge.count === count,
        timeoutMs,
      );
    };
    expect(await syncedBadge()).toBe(2);

    const until = Date.now() + 8_000;
    await call('PUT', `/v1/conversations/${g}/mute`, { token: token('Dee'), body: { until } });
    await bothSay('the muted group out of both', 1);
    await call('PUT', `/v1/conversations/${d}/mute`, { token: token('Dee'), body: {} });
    await bothSay("the muted chat's peer out of both", 0);

    // The group's mute ends by itself: the next sync (and the API) count it again. The end pushes
    // nothing by itself (no timer): a sync made before it still says 0.
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())));
    expect(await syncedBadge()).toBe(1);
    expect((await unreadOf('Dee')).badge).toEqual({ count: 1, sources: [g] });

    await call('PUT', `/v1/conversations/${d}/mute`, {
      token: token('Dee'),
      body: { muted: false },
    });
    await bothSay('unmuted: the peer back in both', 2);
  });

  it('GET receipts of a deleted message answers 404', async () => {
    const id = send(group, 'Ana', 'GROUP');
    await h.publish.flush();
    await eventually('found', async () => {
      const r = await call('GET', `/v1/messages/${group}/${id}/receipts`, { token: token('Bo') });
      return r.status === 200;
    });
    h.publish.messageDeleted(group, id, 'Ana');
    await h.publish.flush();
    const gone = await eventually('404', async () => {
      const r = await call('GET', `/v1/messages/${group}/${id}/receipts`, { token: token('Bo') });
      return r.status === 404 ? r : undefined;
    });
    expect(gone.body).toEqual({ error: 'not_found', message: expect.stringMatching(/deleted/) });
  });

  it('rejections: non-members, an end in the past, unknown fields', async () => {
    const outsider = await call('POST', `/v1/conversations/${dm}/unread`, { token: token('Cy') });
    expect(outsider.status).toBe(403);
    const muteOutsider = await call('PUT', `/v1/conversations/${dm}/mute`, {
      token: token('Cy'),
      body: {},
    });
    expect(muteOutsider.status).toBe(403);
    const past = await call('PUT', `/v1/conversations/${group}/mute`, {
      token: token('Cy'),
      body: { until: Date.now() - 1000 },
    });
    expect(past.status).toBe(422);
    expect(past.body).toMatchObject({
      error: 'invalid_request',
      message: expect.stringMatching(/future/),
    });
    const extra = await call('PUT', `/v1/conversations/${group}/mute`, {
      token: token('Cy'),
      body: { forever: true },
    });
    expect(extra.status).toBe(422);
    const none = await call('PUT', `/v1/conversations/${group}/mute`, { body: {} });
    expect(none.status).toBe(401);
  });
});
