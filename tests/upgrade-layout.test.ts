import { HotStateRestorer } from '../stores/redis/hot-state-restorer';
import { LEGACY_SUFFIXES, MetaField } from '../stores/redis/keys';
import type { TicksHttpServer } from '../services/ticks-http-server';
import type { UnreadAnswer } from './chaos/judge';
import { apiClient } from './support/api-client';
import { startApiServer } from './support/api-server';
import { createHarness, eventually, type Harness } from './support/harness';
import { writeLegacyConversation } from './support/legacy-layout';

interface Receipts {
  delivered: Array<{ user_id: string; at: number | null }>;
  read: Array<{ user_id: string; at: number | null }>;
  total: number;
}

/**
 * Upgrading over hot state of the build before members and watermarks moved into meta: the
 * query API answers from the old keys until the pipeline's next write to a conversation moves
 * them (its first touch loads either layout), and answers the same after; conversations not
 * written since stay readable.
 */
describe('hot state of an older build, after the upgrade (real stack)', () => {
  let h: Harness;
  let server: TicksHttpServer;
  let call: ReturnType<typeof apiClient>;
  const token = (user: string) => server.tokens.issue(user);
  const at = 1_700_000_000_000;

  beforeAll(async () => {
    h = await createHarness({}, { startPipeline: false });
    // A direct chat: Bo sent three, Ana read the first and received the second.
    await writeLegacyConversation(h.redis, h.keys, 'old-dm', {
      kind: 'DIRECT',
      members: ['Ana', 'Bo'],
      read: { Ana: 1, Bo: 3 },
      dlvd: { Ana: 2, Bo: 3 },
      messages: [
        ['d1', 'Bo', at + 1],
        ['d2', 'Bo', at + 2],
        ['d3', 'Bo', at + 3],
      ],
      readLog: { Ana: [[1, at + 10]] },
      dlvLog: { Ana: [[2, at + 5]] },
      notified: { 'r:Ana': '1|3|d1', 'd:Ana': '2|4|d2' },
    });
    // A group: Dee left (keeps her watermarks); Cy read g1–g3 by sending g3.
    await writeLegacyConversation(h.redis, h.keys, 'old-group', {
      kind: 'GROUP',
      members: ['Ana', 'Bo', 'Cy'],
      read: { Ana: 2, Bo: 4, Cy: 3, Dee: 4 },
      dlvd: { Ana: 2, Bo: 4, Cy: 3, Dee: 4 },
      messages: [
        ['g1', 'Bo', at + 20],
        ['g2', 'Bo', at + 21],
        ['g3', 'Cy', at + 22],
        ['g4', 'Bo', at + 23],
      ],
      readLog: { Ana: [[2, at + 30]] },
      dlvLog: { Ana: [[2, at + 25]] },
    });
    // Ana's badge as that build kept it, a hash of its own; her conversation index.
    await h.redis.hset(h.keys.legacyBadge('Ana'), 'Bo', '', 'old-group', '');
    await h.redis.expire(h.keys.legacyBadge('Ana'), 3600);
    await new HotStateRestorer(h.redis, h.aux, h.keys, 3600).restoreUsers(
      [],
      [
        { userId: 'Ana', conversationId: 'old-dm', lastAt: at + 3 },
        { userId: 'Ana', conversationId: 'old-group', lastAt: at + 23 },
      ],
    );
    server = await startApiServer(h, { gateway: false });
    call = apiClient(server.url);
  });

  // close() SCANs a shared Redis holding other runs' keys: slow on a loaded machine.
  afterAll(async () => {
    await server?.stop();
    await h?.close();
  }, 180_000);

  const unreadOfAna = async () =>
    (await call<UnreadAnswer>('GET', '/v1/me/unread', { token: token('Ana') })).body;
  const receipts = async (conversation: string, message: string, viewer: string) => {
    const answer = await call<Receipts>('GET', `/v1/messages/${conversation}/${message}/receipts`, {
      token: token(viewer),
    });
    expect(answer.status).toBe(200);
    return answer.body;
  };
  const groupG1 = {
    // Ana read it at her log entry, received it at hers; Cy read it by sending g3.
    delivered: [
      { user_id: 'Ana', at: at + 25 },
      { user_id: 'Cy', at: at + 22 },
    ],
    read: [
      { user_id: 'Ana', at: at + 30 },
      { user_id: 'Cy', at: at + 22 },
    ],
    total: 2,
  };
  const legacyKeys = (c: string) =>
    Promise.all(LEGACY_SUFFIXES.map((s) => h.redis.exists(h.keys.legacyKey(c, s))));

  it('answers unread counts, members and receipt details from the old keys', async () => {
    const me = await unreadOfAna();
    expect(me.conversations).toEqual([
      expect.objectContaining({
        conversation_id: 'old-group',
        unread: 2,
        read_up_to_seq: 2,
        last_seq: 4,
      }),
      expect.objectContaining({ conversation_id: 'old-dm', unread: 2, read_up_to_seq: 1 }),
    ]);
    expect(me.badge.sources).toEqual(['Bo', 'old-group']);
    expect(await receipts('old-group', 'g1', 'Ana')).toMatchObject(groupG1);
    expect(await receipts('old-dm', 'd2', 'Bo')).toMatchObject({
      delivered: [{ user_id: 'Ana', at: at + 5 }],
      read: [],
      total: 1,
    });
    // Not a member (Dee left): refused, as in the new layout.
    const dee = await call('GET', '/v1/messages/old-group/g1/receipts', { token: token('Dee') });
    expect(dee.status).toBe(403);
    expect(await h.read.members('old-group')).toEqual(['Ana', 'Bo', 'Cy']);
    expect(await h.read.isMember('old-dm', 'Bo')).toBe(true);
    expect(await h.read.isMember('old-group', 'Dee')).toBe(false);
    expect(await h.read.watermark('old-group', 'Dee')).toBe(4);
    // A muted direct chat leaves the badge by its peer: the members come from the old set.
    expect([...(await h.read.badgeSourcesOf(['old-dm'], 'Ana'))]).toEqual(['Bo']);
    // The per-slot reads of a Redis Cluster give the same rows as the script.
    const ids = ['old-group', 'old-dm'];
    expect(await h.read['unreadPerSlot'](ids, 'Ana')).toEqual(await h.read.unreadMany(ids, 'Ana'));
  });

  it("moves a conversation into meta on the pipeline's next write to it, answers alike", async () => {
    await h.startPipeline();
    const read = await call('POST', '/v1/receipts/read', {
      token: token('Ana'),
      body: { conversation_id: 'old-group', seq: 3 },
    });
    expect(read.status).toBe(202);
    await eventually('the read applied', async () => {
      const group = (await unreadOfAna()).conversations[0]!;
      return group.conversation_id === 'old-group' && group.read_up_to_seq === 3;
    });
    expect(await legacyKeys('old-group')).toEqual([0, 0, 0, 0]);
    const meta = await h.redis.hgetall(h.keys.conversationKey('old-group', 'meta'));
    expect(meta).toMatchObject({
      [MetaField.member('Cy')]: '1',
      [MetaField.read('Ana')]: '3',
      [MetaField.read('Dee')]: '4',
      [MetaField.dlvd('Bo')]: '4',
    });
    expect(meta[MetaField.member('Dee')]).toBeUndefined();
    const me = await unreadOfAna();
    expect(me.conversations).toEqual([
      expect.objectContaining({ conversation_id: 'old-group', unread: 1, read_up_to_seq: 3 }),
      expect.objectContaining({ conversation_id: 'old-dm', unread: 2, read_up_to_seq: 1 }),
    ]);
    expect(await receipts('old-group', 'g1', 'Ana')).toMatchObject(groupG1);
    expect(await h.read.members('old-group')).toEqual(['Ana', 'Bo', 'Cy']);
    // The direct chat, not written since, is still read from its old keys.
    expect(await legacyKeys('old-dm')).toEqual([1, 1, 1, 1]);
    expect(await h.read.members('old-dm')).toEqual(['Ana', 'Bo']);
  });

  it('clears a source from the badge an older build kept in a hash of its own', async () => {
    // Ana reads the direct chat to its end: Bo leaves her badge, which is in the older hash.
    const read = await call('POST', '/v1/receipts/read', {
      token: token('Ana'),
      body: { conversation_id: 'old-dm', seq: 3 },
    });
    expect(read.status).toBe(202);
    await eventually('the read applied', async () =>
      (await unreadOfAna()).conversations.some(
        (c) => c.conversation_id === 'old-dm' && c.read_up_to_seq === 3,
      ),
    );
    await eventually(
      'Bo left the badge',
      async () => (await unreadOfAna()).badge.sources.join() === 'old-group',
    );
    expect(await h.redis.hkeys(h.keys.legacyBadge('Ana'))).toEqual(['old-group']);
    expect(await h.read.badge('Ana')).toEqual(['old-group']);
  });
});
