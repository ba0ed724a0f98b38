import { randomBytes } from 'node:crypto';
import { connectRedis, isCluster, type RedisClient } from './connect';
import { loadConfig } from '../../config/config';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { HotStateRestorer, type RestoredConversation } from './hot-state-restorer';
import { MetaField, RedisKeys } from './keys';
import {
  ReadModel,
  type ConversationUnread,
  type UnreadCursor,
  type UnreadPage,
} from './read-model';
import { indexScore } from './conversation-index';

/**
 * The unread pages against the real main Redis: pages cut by the cursor from the user's index
 * give every conversation once, newest first (ties by id, the cursor inside them), with the
 * counts of the state as it is when asked, in one round trip; a conversation that moves between
 * two pages is neither repeated nor does it push another out.
 */
describe('ReadModel unread pages (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const keys = new RedisKeys(prefix);
  let redis: RedisClient;
  let restorer: HotStateRestorer;
  let user = 0;
  const newUser = () => `reader-${++user}`;

  /** A conversation of `userId` and a peer with `messages` messages, the latest sent at `lastAt`; read up to `read`. */
  function conversation(
    id: string,
    userId: string,
    lastAt: number,
    messages: number,
    read: number,
  ): RestoredConversation {
    const list = Array.from({ length: messages }, (_, i) => ({
      seq: i + 1,
      messageId: `${id}-m${i + 1}`,
      senderId: 'peer',
      sentAt: lastAt - (messages - 1 - i),
    }));
    return {
      conversationId: id,
      kind: 'GROUP',
      deleted: [],
      marked: {},
      last: messages > 0 ? { seq: messages, messageId: `${id}-m${messages}`, at: lastAt } : null,
      members: [userId, 'peer'],
      former: [],
      read: { [userId]: read, peer: messages },
      delivered: { [userId]: read, peer: messages },
      messages: list,
      readLog: {},
      deliveredLog: {},
      deliveredById: {},
    };
  }

  async function seed(userId: string, conversations: RestoredConversation[]): Promise<void> {
    await restorer.restoreConversations(conversations);
    await restorer.restoreUsers(
      [],
      conversations.map((c) => ({
        userId,
        conversationId: c.conversationId,
        lastAt: c.last?.at ?? 0,
      })),
    );
  }

  /**
   * One command for a page on a single Redis: the page script. On a Redis Cluster the page's
   * conversations live in other slots than the user's keys: their counts are read per slot after
   * it, so this counts nothing there.
   */
  function expectOnePageCommand(commands: jest.SpyInstance): void {
    if (!isCluster(redis)) expect(commands).toHaveBeenCalledTimes(1);
  }

  /** Every page of `limit`, following next_cursor. */
  async function allPages(
    model: ReadModel,
    userId: string,
    limit: number,
  ): Promise<ConversationUnread[][]> {
    const pages: ConversationUnread[][] = [];
    let after: UnreadCursor | undefined;
    for (let i = 0; i < 100; i++) {
      const page = await model.unreadPage(userId, { limit, after });
      pages.push(page.conversations);
      if (!page.next) return pages;
      after = page.next;
    }
    throw new Error('more than 100 pages: the cursor does not advance');
  }

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
    restorer = new HotStateRestorer(redis, redis, keys, 3600);
  });
  // SCAN of a shared Redis holding other runs' keys: slow on a loaded machine.
  afterAll(async () => {
    await deleteKeys(redis, await scanKeys(redis, keys.all()));
    redis.disconnect();
  }, 180_000);

  it('gives every conversation once over the pages, newest first, ties cut by id', async () => {
    const u = newUser();
    // 23 conversations; times repeat (three share each time) so pages are cut inside ties.
    const conversations = Array.from({ length: 23 }, (_, i) =>
      conversation(
        `${u}-c${String(i).padStart(2, '0')}`,
        u,
        1_000_000 + Math.floor(i / 3),
        4,
        i % 5,
      ),
    );
    await seed(u, conversations);
    // The badge follows the conversations in the user's index: never listed, never a page more.
    // A group's id is both a conversation and a source.
    const badge = ['peer', `${u}-c00`]; // sorted, as answered
    await restorer.restoreUsers(
      badge.map((source) => ({ userId: u, source })),
      [],
    );
    const model = new ReadModel(redis, keys);
    const expected = [...conversations]
      .sort((a, b) => b.last!.at - a.last!.at || (a.conversationId < b.conversationId ? -1 : 1))
      .map((c) => ({
        conversationId: c.conversationId,
        kind: 'GROUP',
        unread: 4 - (c.read[u] ?? 0),
        markedUnread: false,
        readUpToSeq: c.read[u],
        lastSeq: 4,
        lastAt: c.last!.at,
      }));
    for (const limit of [1, 4, 7, 22, 23, 50]) {
      const pages = await allPages(model, u, limit);
      expect(pages.flat()).toEqual(expected);
      expect((await model.unreadPage(u, { limit })).badge).toEqual(badge);
      expect(pages).toHaveLength(Math.max(1, Math.ceil(23 / limit)));
      for (const page of pages) expect(page.length).toBeLessThanOrEqual(limit);
    }
  });

  it('orders a long list by latest message and counts only the page', async () => {
    const u = newUser();
    const conversations = Array.from({ length: 300 }, (_, i) =>
      conversation(`${u}-c${i}`, u, 2_000_000 + ((i * 7919) % 300), 3, i % 2),
    );
    await seed(u, conversations);
    const model = new ReadModel(redis, keys);
    const commands = jest.spyOn(redis, 'sendCommand');
    for (let ask = 0; ask < 2; ask++) {
      commands.mockClear();
      const page = await model.unreadPage(u, { limit: 50 });
      expect(page.conversations.map((c) => c.lastAt)).toEqual(
        Array.from({ length: 50 }, (_, i) => 2_000_299 - i),
      );
      expect(page.next).toEqual({
        lastAt: 2_000_250,
        conversationId: page.conversations[49]!.conversationId,
      });
      // One command: the page script, cut from the index (nothing read per conversation here).
      expectOnePageCommand(commands);
    }
    commands.mockRestore();
  });

  it('answers a user who fits in one page in one round trip, and from the state as it is', async () => {
    const u = newUser();
    await seed(u, [
      conversation(`${u}-a`, u, 3_000_000, 5, 1),
      conversation(`${u}-b`, u, 3_000_001, 2, 0),
    ]);
    const model = new ReadModel(redis, keys);
    const commands = jest.spyOn(redis, 'sendCommand');
    const second = await model.unreadPage(u, { limit: 50 });
    expectOnePageCommand(commands);
    expect(second.conversations.map((c) => [c.conversationId, c.unread])).toEqual([
      [`${u}-b`, 2],
      [`${u}-a`, 4],
    ]);
    // A read moves the watermark (and, as every content write, meta's 'rev'): the next answer has it.
    await redis.hset(
      keys.conversationKey(`${u}-a`, 'meta'),
      MetaField.read(u),
      '5',
      MetaField.revision,
      'w.read',
    );
    const afterRead = await model.unreadPage(u, { limit: 50 });
    expect(afterRead.conversations.find((c) => c.conversationId === `${u}-a`)?.unread).toBe(0);
    commands.mockRestore();
  });

  it("keeps a page's rows with their conversation's 'rev' and counts again only those whose 'rev' changed", async () => {
    const u = newUser();
    await seed(u, [
      conversation(`${u}-a`, u, 4_000_000, 5, 1),
      conversation(`${u}-b`, u, 4_000_001, 3, 0),
    ]);
    const model = new ReadModel(redis, keys);
    const rows = async (m: ReadModel) =>
      (await m.unreadPage(u, { limit: 50 })).conversations.map((c) => [
        c.conversationId,
        c.unread,
        c.lastAt,
      ]);
    const first = await rows(model);
    expect(first).toEqual([
      [`${u}-b`, 3, 4_000_001],
      [`${u}-a`, 4, 4_000_000],
    ]);
    // The revision is what is compared: a change that kept it (no writer does) is not seen…
    const metaA = keys.conversationKey(`${u}-a`, 'meta');
    await redis.hset(metaA, MetaField.read(u), '5');
    expect(await rows(model)).toEqual(first);
    expect(await rows(new ReadModel(redis, keys))).toContainEqual([`${u}-a`, 0, 4_000_000]);
    // …and one that replaced it is counted again, the other row still held.
    await redis.hset(metaA, MetaField.revision, 'w.2');
    await redis.hset(keys.conversationKey(`${u}-b`, 'meta'), MetaField.read(u), '3');
    expect(await rows(model)).toEqual([
      [`${u}-b`, 3, 4_000_001],
      [`${u}-a`, 0, 4_000_000],
    ]);
  });

  it('gives the held page itself to a user in no conversation while that holds', async () => {
    const u = newUser();
    const model = new ReadModel(redis, keys);
    const empty = await model.unreadPage(u, { limit: 50 });
    expect(empty.conversations).toEqual([]);
    expect(await model.unreadPage(u, { limit: 50 })).toBe(empty);
    await seed(u, [conversation(`${u}-a`, u, 6_000_000, 2, 0)]);
    expect((await model.unreadPage(u, { limit: 50 })).conversations).toHaveLength(1);
  });

  it('gives the held page itself while nothing on it changed: listing, rows, badge', async () => {
    const u = newUser();
    await seed(u, [
      conversation(`${u}-a`, u, 5_000_000, 2, 0),
      conversation(`${u}-b`, u, 5_000_001, 1, 0),
    ]);
    const model = new ReadModel(redis, keys);
    const first = await model.unreadPage(u, { limit: 50 });
    expect(await model.unreadPage(u, { limit: 50 })).toBe(first);
    // The badge changes: a new answer, the rows as they were.
    await restorer.restoreUsers([{ userId: u, source: `${u}-a` }], []);
    const badged = await model.unreadPage(u, { limit: 50 });
    expect(badged).not.toBe(first);
    expect(badged.badge).toEqual([`${u}-a`]);
    expect(badged.conversations).toEqual(first.conversations);
    expect(await model.unreadPage(u, { limit: 50 })).toBe(badged);
    // A badge an older build kept in a hash of its own is read beside it.
    await redis.hset(keys.legacyBadge(u), 'older', '');
    const withOlder = await model.unreadPage(u, { limit: 50 });
    expect(withOlder.badge).toEqual(['older', `${u}-a`]);
    await redis.del(keys.legacyBadge(u));
    const again = await model.unreadPage(u, { limit: 50 });
    expect(again.badge).toEqual([`${u}-a`]);
    expect(await model.unreadPage(u, { limit: 50 })).toBe(again);
    // A row's revision changes: a new answer with that row read again.
    await redis.hset(
      keys.conversationKey(`${u}-a`, 'meta'),
      MetaField.read(u),
      '2',
      MetaField.revision,
      'w.a2',
    );
    const read = await model.unreadPage(u, { limit: 50 });
    expect(read.conversations.map((c) => c.unread)).toEqual([1, 0]);
    // The listing changes (a conversation joins the index): a new answer with it.
    await seed(u, [conversation(`${u}-c`, u, 5_000_002, 1, 0)]);
    const joined = await model.unreadPage(u, { limit: 50 });
    expect(joined.conversations.map((c) => c.conversationId)).toEqual([
      `${u}-c`,
      `${u}-b`,
      `${u}-a`,
    ]);
    // Another page (limit) is held apart.
    expect((await model.unreadPage(u, { limit: 1 })).conversations).toHaveLength(1);
    expect(await model.unreadPage(u, { limit: 50 })).toBe(joined);
  });

  it('follows the index when only its scores or order changed, the rows held', async () => {
    const u = newUser();
    await seed(u, [
      conversation(`${u}-a`, u, 7_000_000, 2, 0),
      conversation(`${u}-b`, u, 7_000_001, 1, 0),
    ]);
    const model = new ReadModel(redis, keys);
    const first = await model.unreadPage(u, { limit: 50 });
    const shown = (p: UnreadPage) =>
      p.conversations.map((c) => [c.conversationId, c.unread, c.lastAt]);
    expect(shown(first)).toEqual([
      [`${u}-b`, 1, 7_000_001],
      [`${u}-a`, 2, 7_000_000],
    ]);
    // A score moves, the order and every revision stay: the new time, the held counts.
    await redis.zadd(keys.userConversations(u), indexScore(7_000_005), `${u}-b`);
    expect(shown(await model.unreadPage(u, { limit: 50 }))).toEqual([
      [`${u}-b`, 1, 7_000_005],
      [`${u}-a`, 2, 7_000_000],
    ]);
    // The order turns, every revision stays: the rows held, in the index's new order.
    await redis.zadd(keys.userConversations(u), indexScore(7_000_009), `${u}-a`);
    const turned = await model.unreadPage(u, { limit: 50 });
    expect(shown(turned)).toEqual([
      [`${u}-a`, 2, 7_000_009],
      [`${u}-b`, 1, 7_000_005],
    ]);
    expect(await model.unreadPage(u, { limit: 50 })).toBe(turned);
  });

  it('follows a conversation list that changed since the last call (joined, left)', async () => {
    const u = newUser();
    await seed(u, [conversation(`${u}-a`, u, 4_000_000, 1, 0)]);
    const model = new ReadModel(redis, keys);
    expect((await model.unreadPage(u, { limit: 50 })).conversations).toHaveLength(1);
    await seed(u, [conversation(`${u}-new`, u, 4_000_005, 3, 0)]);
    expect(
      (await model.unreadPage(u, { limit: 50 })).conversations.map((c) => [
        c.conversationId,
        c.unread,
      ]),
    ).toEqual([
      [`${u}-new`, 3],
      [`${u}-a`, 1],
    ]);
    await redis.zrem(keys.userConversations(u), `${u}-a`);
    expect(
      (await model.unreadPage(u, { limit: 50 })).conversations.map((c) => c.conversationId),
    ).toEqual([`${u}-new`]);
    // A list grown past the page: cut from the index.
    await seed(
      u,
      Array.from({ length: 5 }, (_, i) => conversation(`${u}-more${i}`, u, 4_000_010 + i, 1, 0)),
    );
    const page = await model.unreadPage(u, { limit: 3 });
    expect(page.conversations.map((c) => c.conversationId)).toEqual([
      `${u}-more4`,
      `${u}-more3`,
      `${u}-more2`,
    ]);
    expect(page.next).not.toBeNull();
  });

  it('pages through conversations with no message yet (all tied at 0), the cursor inside the tie', async () => {
    const u = newUser();
    const ids = Array.from({ length: 37 }, (_, i) => `${u}-q${String(i).padStart(2, '0')}`);
    await seed(
      u,
      ids.map((id) => conversation(id, u, 0, 0, 0)),
    );
    const model = new ReadModel(redis, keys);
    const pages = await allPages(model, u, 5);
    expect(pages.flat().map((c) => c.conversationId)).toEqual(ids);
    expect(pages.flat().every((c) => c.lastAt === 0 && c.unread === 0)).toBe(true);
  });

  it('keeps paging from the cursor while conversations move between pages', async () => {
    const u = newUser();
    const at = (i: number) => 5_000_000 + i;
    const id = (i: number) => `${u}-c${i}`;
    await seed(
      u,
      Array.from({ length: 10 }, (_, i) => conversation(id(i), u, at(i), 2, 0)),
    );
    const model = new ReadModel(redis, keys);
    const first = await model.unreadPage(u, { limit: 4 });
    expect(first.conversations.map((c) => c.conversationId)).toEqual([9, 8, 7, 6].map(id));
    // c2 (on a later page) and c8 (on this one) get new messages: both move to the top.
    await seed(u, [conversation(id(2), u, at(20), 3, 0), conversation(id(8), u, at(21), 3, 0)]);
    const second = await model.unreadPage(u, { limit: 4, after: first.next! });
    // After the cursor (c6 at its old time): c2 left for the top, nothing repeated or skipped.
    expect(second.conversations.map((c) => c.conversationId)).toEqual([5, 4, 3, 1].map(id));
    const third = await model.unreadPage(u, { limit: 4, after: second.next! });
    expect(third.conversations.map((c) => c.conversationId)).toEqual([id(0)]);
    expect(third.next).toBeNull();
    const top = await model.unreadPage(u, { limit: 2 });
    expect(top.conversations.map((c) => [c.conversationId, c.lastAt, c.unread])).toEqual([
      [id(8), at(21), 3],
      [id(2), at(20), 3],
    ]);
  });

  it('answers the first page of a user in 5,000 conversations from the page alone', async () => {
    const u = newUser();
    const n = 5_000;
    const id = (i: number) => `${u}-c${i}`;
    // The index lists 5,000; only the newest 60 have state: nothing else is read for a page.
    await restorer.restoreUsers(
      [],
      Array.from({ length: n }, (_, i) => ({
        userId: u,
        conversationId: id(i),
        lastAt: 6_000_000 + i,
      })),
    );
    await restorer.restoreConversations(
      Array.from({ length: 60 }, (_, k) =>
        conversation(id(n - 1 - k), u, 6_000_000 + n - 1 - k, 1, 0),
      ),
    );
    const model = new ReadModel(redis, keys);
    const commands = jest.spyOn(redis, 'sendCommand');
    const page = await model.unreadPage(u, { limit: 50 });
    expectOnePageCommand(commands);
    commands.mockRestore();
    expect(page.conversations.map((c) => [c.conversationId, c.unread, c.lastSeq])).toEqual(
      Array.from({ length: 50 }, (_, i) => [id(n - 1 - i), 1, 1]),
    );
    expect(page.next).toEqual({ lastAt: 6_000_000 + n - 50, conversationId: id(n - 50) });
  });

  it('gives the badge with the page, sorted, and nothing for an unknown user', async () => {
    const u = newUser();
    await restorer.restoreUsers(
      [
        { userId: u, source: 'zed' },
        { userId: u, source: 'amy' },
      ],
      [],
    );
    const model = new ReadModel(redis, keys);
    expect(await model.unreadPage(u, { limit: 10 })).toEqual({
      conversations: [],
      badge: ['amy', 'zed'],
      next: null,
    });
  });
});
