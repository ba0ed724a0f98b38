import { createHarness, eventually, type Harness } from './support/harness';
import type { UnreadCursor } from '../stores/redis/read-model';
import { CONVERSATION_RANGE } from '../stores/redis/badge-entries';

/**
 * Each user's conversations by latest message ({u:<user>}:recent), as the pipeline keeps it:
 * joins list a conversation, a new message moves it for its listed members (once a step), a
 * leave unlists it, a deletion keeps it at its time; the query API's pages are cut from it.
 */
describe("users' conversation index, kept by the pipeline (real Kafka and Redis)", () => {
  let h: Harness;
  const base = Date.now() - 600_000;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    await h?.close();
  }, 180_000);

  const page = async (userId: string, limit = 50, after?: UnreadCursor) =>
    h.read.unreadPage(userId, { limit, after });
  const order = async (userId: string) =>
    (await page(userId)).conversations.map((c) => [c.conversationId, c.unread, c.lastAt]);
  /** The conversations of the index with their scores (the user's badge follows them). */
  const index = async (userId: string) =>
    h.redis.zrangebyscore(h.keys.userConversations(userId), ...CONVERSATION_RANGE, 'WITHSCORES');

  function group(c: string, members: string[]) {
    for (const m of members) h.publish.memberAdded(c, m, 'GROUP', base);
    return h.publish;
  }
  const sent = (c: string, seq: number, senderId: string, at: number) =>
    h.publish.messageSent(c, {
      messageId: `${c}-${seq}`,
      seq,
      senderId,
      kind: 'GROUP',
      sentAt: at,
    });

  it('lists joined conversations newest first and moves one on its new message, for listed members only', async () => {
    const [u, g1, g2, g3] = ['ix-u', 'ix-g1', 'ix-g2', 'ix-g3'];
    for (const [i, g] of [g1, g2, g3].entries()) {
      group(g, [u, 'peer']);
      sent(g, 1, 'peer', base + 1_000 * (i + 1));
    }
    await h.publish.flush();
    await eventually('three listed, newest first', async () => {
      expect(await order(u)).toEqual([
        [g3, 1, base + 3_000],
        [g2, 1, base + 2_000],
        [g1, 1, base + 1_000],
      ]);
      return true;
    });
    // g1's new message moves it to the top; 'ghost' sent to g2 without joining: not listed.
    sent(g1, 2, 'peer', base + 10_000);
    sent(g2, 2, 'ghost', base + 5_000);
    await h.publish.flush();
    await eventually('g1 moved to the top', async () => {
      expect(await order(u)).toEqual([
        [g1, 2, base + 10_000],
        [g2, 2, base + 5_000],
        [g3, 1, base + 3_000],
      ]);
      return true;
    });
    expect(await index(u)).toEqual([
      g1,
      String(-(base + 10_000)),
      g2,
      String(-(base + 5_000)),
      g3,
      String(-(base + 3_000)),
    ]);
    expect(await index('ghost')).toEqual([]);
    expect(await h.read.members(g2)).toContain('ghost');
  });

  it('unlists a conversation its member left, and lists it again at its latest message on rejoin', async () => {
    const [u, a, b] = ['lv-u', 'lv-a', 'lv-b'];
    group(a, [u, 'lv-peer']);
    group(b, [u, 'lv-peer']);
    sent(a, 1, 'lv-peer', base + 1_000);
    sent(b, 1, 'lv-peer', base + 2_000);
    await h.publish.flush();
    await eventually('both listed', async () => (await order(u)).length === 2);
    h.publish.memberRemoved(b, u, base + 3_000);
    sent(b, 2, 'lv-peer', base + 4_000); // after the leave: must not list it again
    await h.publish.flush();
    await eventually('b unlisted', async () => {
      expect(await order(u)).toEqual([[a, 1, base + 1_000]]);
      return true;
    });
    await eventually(
      'b moved for lv-peer',
      async () =>
        (await index('lv-peer')).join() ===
        [b, String(-(base + 4_000)), a, String(-(base + 1_000))].join(),
    );
    h.publish.memberAdded(b, u, 'GROUP', base + 5_000);
    await h.publish.flush();
    await eventually('b listed again at its latest message', async () => {
      expect((await order(u)).map(([c, , at]) => [c, at])).toEqual([
        [b, base + 4_000],
        [a, base + 1_000],
      ]);
      return true;
    });
  });

  it('keeps a conversation listed at its time when its last message is deleted; its count drops', async () => {
    const [u, g, other] = ['del-u', 'del-g', 'del-other'];
    group(g, [u, 'peer']);
    group(other, [u, 'peer']);
    sent(g, 1, 'peer', base + 1_000);
    sent(g, 2, 'peer', base + 3_000);
    sent(other, 1, 'peer', base + 2_000);
    await h.publish.flush();
    await eventually('both listed', async () => {
      expect(await order(u)).toEqual([
        [g, 2, base + 3_000],
        [other, 1, base + 2_000],
      ]);
      return true;
    });
    h.publish.messageDeleted(g, `${g}-2`, 'peer', base + 4_000);
    await h.publish.flush();
    await eventually('the deleted message no longer counts', async () => {
      expect(await order(u)).toEqual([
        [g, 1, base + 3_000],
        [other, 1, base + 2_000],
      ]);
      return true;
    });
  });

  it('pages with the cursor while conversations move: each seen once, the moved one on top', async () => {
    const u = 'pg-u';
    const ids = Array.from({ length: 6 }, (_, i) => `pg-c${i}`);
    ids.forEach((c, i) => {
      group(c, [u, 'peer']);
      sent(c, 1, 'peer', base + 1_000 * (i + 1));
    });
    await h.publish.flush();
    await eventually('six listed', async () => (await order(u)).length === 6);
    const first = await page(u, 2);
    expect(first.conversations.map((c) => c.conversationId)).toEqual(['pg-c5', 'pg-c4']);
    // pg-c1 (on the last page) gets a message: it moves to the top, out of the pages to come.
    sent('pg-c1', 2, 'peer', base + 20_000);
    await h.publish.flush();
    await eventually('pg-c1 on top', async () => (await order(u))[0]![0] === 'pg-c1');
    const second = await page(u, 2, first.next!);
    const third = await page(u, 2, second.next!);
    expect([...second.conversations, ...third.conversations].map((c) => c.conversationId)).toEqual([
      'pg-c3',
      'pg-c2',
      'pg-c0',
    ]);
    expect(third.next).toBeNull();
  });

  it('shows a conversation marked unread as unread, in its place', async () => {
    const [u, g] = ['mk-u', 'mk-g'];
    group(g, [u, 'peer']);
    sent(g, 1, 'peer', base + 1_000);
    await h.publish.flush();
    await eventually('listed', async () => (await order(u)).length === 1);
    h.publish.read(g, u, { seq: 1 });
    await h.publish.flush();
    await eventually('read', async () => (await order(u))[0]![1] === 0);
    h.publish.markUnread(g, u);
    await h.publish.flush();
    await eventually('marked unread', async () => {
      const [row] = (await page(u)).conversations;
      expect(row).toMatchObject({ conversationId: g, unread: 1, markedUnread: true });
      return true;
    });
  });
});
