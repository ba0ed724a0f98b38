import { randomUUID } from 'node:crypto';
import { CassandraReceiptDetails } from '../stores/cassandra/cassandra-receipt-details';
import { RedisReceiptDetails } from '../stores/redis/receipt-details';
import {
  TypeName,
  type ConversationEvent,
  type ReceiptUpdate,
  type UnreadSync,
} from '../schemas/types';
import {
  caughtUp,
  createHarness,
  eventually,
  outputsCollected,
  persisterCaughtUp,
  scanKeys,
  snapshot,
  type Harness,
} from './support/harness';
import { runScript } from './support/run-script';

/**
 * Issue 14 against the real servers: a deleted message stops counting (unread, badge), its
 * receipt details answer 404, nothing about it is pushed after the deletion, receipts naming it
 * are dead-lettered; mark as unread shows 1 and joins the badge until the user's next read from
 * any device; each is idempotent under redelivery; the changelog, Cassandra and a rebuild agree.
 */
describe('user actions: delete, mark as unread', () => {
  let h: Harness;
  const group = { id: 'ua-group', members: ['A', 'B', 'C'] };
  const direct = { id: 'ua-direct', members: ['D', 'E'] };
  const race = { id: 'ua-race', members: ['F', 'G'] };
  const marking = { id: 'ua-mark', members: ['H', 'K'] };
  const windowed = { id: 'ua-window', members: ['P', 'Q', 'R'] };
  const quiet = { id: 'ua-quiet', members: ['S', 'T', 'U'] };
  const markingGroup = { id: 'ua-mark-group', members: ['V', 'W', 'X'] };
  const deletingDirect = { id: 'ua-del-direct', members: ['L', 'M'] };
  const all = [group, direct, race, marking, windowed, quiet, markingGroup, deletingDirect];
  const groups = [group, windowed, quiet, markingGroup];

  beforeAll(async () => {
    h = await createHarness(
      { TICKS_PENDING_RECEIPT_WAIT_MS: '20000', TICKS_WATERMARK_FLUSH_INTERVAL_MS: '500' },
      { cassandra: true },
    );
    await h.startPersister();
    for (const c of all)
      for (const m of c.members)
        h.publish.memberAdded(c.id, m, groups.includes(c) ? 'GROUP' : 'DIRECT');
    await h.publish.flush();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  const send = (c: string, seq: number, senderId: string, kind: 'GROUP' | 'DIRECT') =>
    h.publish.messageSent(c, { messageId: `${c}-${seq}`, seq, senderId, kind });
  const naming = (updates: ReceiptUpdate[], messageId: string) =>
    updates.filter((u) => JSON.stringify(u.payload).includes(`"${messageId}"`));
  /** The unread syncs pushed to a user for a conversation, oldest first. */
  const syncsOf = (user: string, c: string, updates = h.out.updatesFor(user, 'UnreadSync')) =>
    updates
      .filter((u) => u.user_id === user)
      .map((u) => (u.payload as { [TypeName.UnreadSync]?: UnreadSync })[TypeName.UnreadSync])
      .filter((p) => p?.conversation_id === c);
  const details = (c: string, messageId: string, viewer: string) =>
    new RedisReceiptDetails(h.redis, h.keys).lookup({ conversationId: c, messageId, viewer });
  /**
   * Everything applied and every output read: the inputs committed (a step's outputs go out
   * before its offsets commit), a window any of them opened closed, the output topics read.
   */
  const settled = async () => {
    await caughtUp(h);
    await new Promise((r) => setTimeout(r, h.config.windowMs + h.config.windowGraceMs + 500));
    await outputsCollected(h);
  };

  it('a deleted message stops counting: unread drops, the badge loses a source whose last unread it was', async () => {
    const c = group.id;
    send(c, 1, 'A', 'GROUP');
    send(c, 2, 'A', 'GROUP');
    send(c, 3, 'A', 'GROUP');
    h.publish.read(c, 'C', { seq: 2 });
    await h.publish.flush();
    await eventually('indexed', async () => (await h.read.watermark(c, 'C')) === 2);
    expect(await h.read.unread(c, 'B')).toBe(3);
    expect(await h.read.badge('C')).toEqual([c]);

    h.publish.messageDeleted(c, `${c}-3`, 'A');
    await h.publish.flush();
    // The badge is written mid-step, the state behind the step's outputs: wait for both.
    await eventually('C caught up', async () => (await h.read.badge('C')).length === 0);
    await eventually('C has nothing unread', async () => (await h.read.unread(c, 'C')) === 0);
    expect(await h.read.unread(c, 'B')).toBe(2);
    expect(await h.read.badge('B')).toEqual([c]); // B still has 1 and 2 unread
    expect(await h.read.watermark(c, 'C')).toBe(2); // no watermark moves
    // Their devices are told at once, not at the next refetch: an unread sync, newest version last.
    const synced = (user: string) =>
      h.out
        .updatesFor(user, 'UnreadSync')
        .map((u) => (u.payload as { [TypeName.UnreadSync]?: UnreadSync })[TypeName.UnreadSync])
        .filter((p) => p?.conversation_id === c);
    await eventually('B and C synced', () => synced('B').length > 0 && synced('C').length > 0);
    expect(synced('B').at(-1)).toMatchObject({
      unread_count: 2,
      badge_count: 1,
      read_up_to_seq: 0,
    });
    expect(synced('C').at(-1)).toMatchObject({
      unread_count: 0,
      badge_count: 0,
      read_up_to_seq: 2,
    });
    expect(synced('A')).toEqual([]); // the sender never counted it

    // Deleting an already-read message changes nothing else.
    h.publish.messageDeleted(c, `${c}-1`, 'A');
    await h.publish.flush();
    await eventually('B down to 1', async () => (await h.read.unread(c, 'B')) === 1);
    expect(await h.read.badge('C')).toEqual([]);
    expect(await h.read.badge('B')).toEqual([c]);

    // B reading to the newest visible message (2; 3 is gone) clears the badge.
    h.publish.read(c, 'B', { messageId: `${c}-2` });
    await h.publish.flush();
    // As above: the badge is written mid-step, the unread count behind the step's outputs.
    await eventually('B caught up', async () => (await h.read.badge('B')).length === 0);
    await eventually('B has nothing unread', async () => (await h.read.unread(c, 'B')) === 0);

    expect((await details(c, `${c}-3`, 'B')).status).toBe('deleted');
    expect((await details(c, `${c}-2`, 'B')).status).toBe('found');
    await eventually('the deletion in the changelog', () =>
      h.out.stateChanges.some(
        (s) =>
          TypeName.MessageDeleted in s.change &&
          s.change[TypeName.MessageDeleted].message_id === `${c}-3`,
      ),
    );
  });

  it('redelivered, replayed and unknown deletions change nothing; a deleted id is never sent again', async () => {
    const c = group.id;
    const before = await snapshot(h, [group]);
    const detailsBefore = await details(c, `${c}-2`, 'B');
    h.publish
      .messageDeleted(c, `${c}-3`, 'A')
      .messageDeleted(c, `${c}-3`, 'A')
      .messageDeleted(c, 'never-sent', 'A');
    // A replay of the deleted message's MessageSent must not bring it back.
    send(c, 3, 'A', 'GROUP');
    await h.publish.flush();
    await caughtUp(h);
    expect(await snapshot(h, [group])).toEqual(before);
    expect(await details(c, `${c}-2`, 'B')).toEqual(detailsBefore);
    expect((await details(c, `${c}-3`, 'B')).status).toBe('deleted');
    expect((await details(c, 'never-sent', 'B')).status).toBe('deleted');
  });

  it('deletions that lower no count push nothing: an already-read message, a redelivery, an unknown id, a replayed MessageSent', async () => {
    const c = quiet.id;
    send(c, 1, 'S', 'GROUP');
    send(c, 2, 'S', 'GROUP');
    send(c, 3, 'S', 'GROUP');
    h.publish.read(c, 'T', { seq: 3 });
    h.publish.read(c, 'U', { seq: 1 });
    await h.publish.flush();
    await eventually(
      'reads applied',
      async () => (await h.read.watermark(c, 'T')) === 3 && (await h.read.watermark(c, 'U')) === 1,
    );
    await settled();
    expect(await h.read.unread(c, 'U')).toBe(2);
    expect(await h.read.badge('U')).toEqual([c]);

    /** `act` pushes nothing on receipt_updates and changes nothing a member sees. */
    const changesNothing = async (what: string, act: () => void) => {
      const before = await snapshot(h, [quiet]);
      const pushes = h.out.updates.length;
      act();
      await h.publish.flush();
      await settled();
      expect({ what, pushed: h.out.updates.slice(pushes) }).toEqual({ what, pushed: [] });
      expect({ what, state: await snapshot(h, [quiet]) }).toEqual({ what, state: before });
    };
    const deletion = (messageId: string): ConversationEvent => ({
      event_id: randomUUID(),
      conversation_id: c,
      occurred_at: Date.now(),
      payload: {
        [TypeName.MessageDeleted]: {
          message_id: messageId,
          deleted_by: 'S',
          deleted_at: Date.now(),
        },
      },
    });

    // 1 is read by everyone (T and U read it, S sent it).
    await changesNothing('an already-read message deleted', () =>
      h.publish.encoded('conversationEvents', c, deletion(`${c}-1`)),
    );
    expect((await details(c, `${c}-1`, 'T')).status).toBe('deleted');

    // 3 is unread for U: the first deletion lowers U's count and tells U's devices, once.
    const third = deletion(`${c}-3`);
    const pushes = h.out.updates.length;
    h.publish.encoded('conversationEvents', c, third);
    await h.publish.flush();
    await eventually('U down to 1', async () => (await h.read.unread(c, 'U')) === 1);
    await settled();
    expect(
      h.out.updates
        .slice(pushes)
        .map((u) => [
          u.user_id,
          (u.payload as { [TypeName.UnreadSync]?: UnreadSync })[TypeName.UnreadSync],
        ]),
    ).toEqual([['U', expect.objectContaining({ conversation_id: c, unread_count: 1 })]]);

    await changesNothing('the same deletion record redelivered', () =>
      h.publish.encoded('conversationEvents', c, third),
    );
    await changesNothing('the deletion sent again (another event id)', () =>
      h.publish.messageDeleted(c, `${c}-3`, 'S'),
    );
    await changesNothing('an unknown id deleted', () =>
      h.publish.messageDeleted(c, `${c}-never-sent`, 'S'),
    );
    await changesNothing("the deleted messages' MessageSent replayed", () => {
      send(c, 3, 'S', 'GROUP');
      send(c, 1, 'S', 'GROUP');
    });
    expect((await details(c, `${c}-3`, 'U')).status).toBe('deleted');
    expect((await details(c, `${c}-1`, 'U')).status).toBe('deleted');
    expect((await details(c, `${c}-2`, 'U')).status).toBe('found');
  }, 120_000);

  it('a deletion in a direct chat: the peer leaves the badge with the last unread message, and the reader is synced 0/0', async () => {
    const c = deletingDirect.id;
    send(c, 1, 'L', 'DIRECT');
    send(c, 2, 'L', 'DIRECT');
    await h.publish.flush();
    await eventually('indexed', async () => (await h.read.unread(c, 'M')) === 2);
    expect(await h.read.badge('M')).toEqual(['L']); // a direct chat's source is the peer
    await settled();
    const pushes = h.out.updates.length;

    // Not the last unread one: the count drops, the peer stays.
    h.publish.messageDeleted(c, `${c}-2`, 'L');
    await h.publish.flush();
    await eventually('M synced once', () => syncsOf('M', c).length === 1);
    expect(syncsOf('M', c)).toEqual([
      {
        conversation_id: c,
        unread_count: 1,
        badge_count: 1,
        read_up_to_seq: 0,
        origin_device_id: null, // no device of M's acted
      },
    ]);
    expect(await h.read.unread(c, 'M')).toBe(1);
    expect(await h.read.badge('M')).toEqual(['L']);

    // The last unread one: the peer leaves M's badge and M's devices hear 0 unread, badge 0.
    h.publish.messageDeleted(c, `${c}-1`, 'L');
    await h.publish.flush();
    await eventually('M synced twice', () => syncsOf('M', c).length === 2);
    expect(syncsOf('M', c).at(-1)).toEqual({
      conversation_id: c,
      unread_count: 0,
      badge_count: 0,
      read_up_to_seq: 0,
      origin_device_id: null,
    });
    expect(await h.read.badge('M')).toEqual([]);
    expect(await h.read.unread(c, 'M')).toBe(0);
    expect(await h.read.watermark(c, 'M')).toBe(0); // no watermark moves
    await settled();
    // Only M was told: the sender's own count never held them.
    expect(h.out.updates.slice(pushes).map((u) => u.user_id)).toEqual(['M', 'M']);
    expect(await h.read.badge('L')).toEqual([]);
  });

  it('receipts naming a deleted message are dead-lettered with MESSAGE_DELETED, held ones too', async () => {
    const c = direct.id;
    // Held: the read comes before its message, which is then sent and deleted.
    h.publish.read(c, 'E', { messageId: `${c}-2` });
    await h.publish.flush();
    await new Promise((r) => setTimeout(r, 500));
    send(c, 1, 'D', 'DIRECT');
    send(c, 2, 'D', 'DIRECT');
    h.publish.messageDeleted(c, `${c}-2`, 'D');
    await h.publish.flush();
    const held = await eventually('held receipt dead-lettered', () =>
      h.out.deadLetters.find((d) => d.reason === 'MESSAGE_DELETED' && d.detail.includes(c)),
    );
    expect(held.detail).toContain(`${c}-2`);
    expect(held.source_topic).toBe(h.topics.receiptEvents);
    expect(await h.read.watermark(c, 'E')).toBe(0);
    expect(await h.read.unread(c, 'E')).toBe(1);

    // Fresh, after the deletion: a delivery naming only the deleted id.
    h.publish.delivered(c, 'E', { messageIds: [`${c}-2`] });
    await h.publish.flush();
    await eventually(
      'fresh receipt dead-lettered',
      () =>
        h.out.deadLetters.filter((d) => d.reason === 'MESSAGE_DELETED' && d.detail.includes(c))
          .length === 2,
    );
    // A delivery naming a deleted and a live id confirms the live one.
    h.publish.delivered(c, 'E', { messageIds: [`${c}-2`, `${c}-1`] });
    await h.publish.flush();
    const update = await eventually('D told of 1', () =>
      naming(h.out.updatesFor('D', 'MessageStatusUpdate'), `${c}-1`).at(0),
    );
    expect(update.payload).toMatchObject({
      [TypeName.MessageStatusUpdate]: { status: 'DELIVERED', by: 'E' },
    });
    expect(naming(h.out.updatesFor('D'), `${c}-2`)).toEqual([]);
  });

  it('a deletion racing its own read receipts: nothing about it is pushed after the deletion', async () => {
    const c = race.id;
    send(c, 1, 'F', 'DIRECT');
    send(c, 2, 'F', 'DIRECT');
    await h.publish.flush();
    await eventually('indexed', async () => (await h.read.unread(c, 'G')) === 2);
    // Delivered to G's device, then deleted, then read by seq and by the deleted id: the read
    // covers 1 and 2, and F hears of 1 — never of 2 once it is deleted.
    h.publish.delivered(c, 'G', { upToSeq: 2 });
    await h.publish.flush();
    const deliveredOf2 = await eventually('F told delivered', () =>
      naming(h.out.updatesFor('F', 'MessageStatusUpdate'), `${c}-2`).at(0),
    );
    const countBefore = h.out.updates.length;
    h.publish.messageDeleted(c, `${c}-2`, 'F');
    await h.publish.flush();
    // Applied before the reads go out. Across topics a receipt may be applied ahead of a
    // conversation event still in flight: the runtime knows the conversation topic has nothing
    // more from the high watermark of the last batch it got (as Kafka Streams), and a read applied
    // before the deletion rightly tells F of message 2 (what its one failure in a full suite
    // looked like: F never told of 1, G's watermark at 2).
    await eventually('deleted', async () => (await h.read.unread(c, 'G')) === 1);
    h.publish.read(c, 'G', { seq: 2 }, 'phone');
    h.publish.read(c, 'G', { messageId: `${c}-2` }, 'tablet');
    await h.publish.flush();
    await eventually('read applied', async () => (await h.read.watermark(c, 'G')) === 2);
    const read = await eventually('F told read of 1', () =>
      naming(h.out.updatesFor('F', 'MessageStatusUpdate'), `${c}-1`).at(0),
    );
    expect(read.payload).toMatchObject({ [TypeName.MessageStatusUpdate]: { status: 'READ' } });
    await eventually('the id read dead-lettered', () =>
      h.out.deadLetters.some((d) => d.reason === 'MESSAGE_DELETED' && d.detail.includes(c)),
    );
    const after = h.out.updates.slice(countBefore);
    expect(naming(after, `${c}-2`)).toEqual([]);
    expect(naming(h.out.updatesFor('F'), `${c}-2`)).toEqual([deliveredOf2]);
    expect(await h.read.unread(c, 'G')).toBe(0);
    expect(await h.read.badge('G')).toEqual([]);
  });

  it('a group window that covered a deleted message does not summarise it', async () => {
    const c = windowed.id;
    send(c, 1, 'P', 'GROUP');
    send(c, 2, 'P', 'GROUP');
    await h.publish.flush();
    await eventually('indexed', async () => (await h.read.unread(c, 'Q')) === 2);
    h.publish.read(c, 'Q', { seq: 2 });
    h.publish.messageDeleted(c, `${c}-2`, 'P'); // inside the window's 2 s
    await h.publish.flush();
    const summary = await eventually(
      'P summarised',
      () =>
        h.out
          .updatesFor('P', 'GroupSenderSummary')
          .find((u) => JSON.stringify(u.payload).includes(c)),
      10_000,
    );
    const messages = (
      summary.payload as {
        [TypeName.GroupSenderSummary]: { messages: Array<{ message_id: string }> };
      }
    )[TypeName.GroupSenderSummary].messages.map((m) => m.message_id);
    expect(messages).toEqual([`${c}-1`]);
    expect(naming(h.out.updatesFor('P'), `${c}-2`)).toEqual([]);
  });

  it('mark as unread from one device, read from another: 1 unread and the badge, then cleared', async () => {
    const c = marking.id;
    send(c, 1, 'H', 'DIRECT');
    h.publish.read(c, 'K', { seq: 1 });
    await h.publish.flush();
    await eventually('read', async () => (await h.read.watermark(c, 'K')) === 1);
    await eventually('no badge', async () => (await h.read.badge('K')).length === 0);
    const toH = h.out.updatesFor('H').length;

    h.publish.markUnread(c, 'K', 'phone');
    await h.publish.flush();
    await eventually('marked', async () => (await h.read.unread(c, 'K')) === 1);
    expect(await h.read.badge('K')).toEqual(['H']);
    expect(await h.read.watermark(c, 'K')).toBe(1); // no watermark moves backwards
    const sync = await eventually('K synced', () =>
      h.out
        .updatesFor('K', 'UnreadSync')
        .find(
          (u) =>
            (u.payload as { [TypeName.UnreadSync]: { origin_device_id: string | null } })[
              TypeName.UnreadSync
            ].origin_device_id === 'phone',
        ),
    );
    expect(sync.payload).toMatchObject({
      [TypeName.UnreadSync]: { conversation_id: c, unread_count: 1, badge_count: 1 },
    });
    // Twice (a redelivery, or the user's second tap) changes nothing.
    h.publish.markUnread(c, 'K', 'phone');
    await h.publish.flush();
    await caughtUp(h);
    expect(await h.read.unread(c, 'K')).toBe(1);
    expect(await h.read.badge('K')).toEqual(['H']);
    expect(h.out.updatesFor('H')).toHaveLength(toH); // senders are told nothing

    // A read from the laptop (moving nothing) clears the flag.
    h.publish.read(c, 'K', { seq: 1 }, 'laptop');
    await h.publish.flush();
    await eventually('cleared', async () => (await h.read.unread(c, 'K')) === 0);
    await eventually('badge cleared', async () => (await h.read.badge('K')).length === 0);
    expect(
      h.out.stateChanges
        .filter((s) => s.conversation_id === c && TypeName.UnreadMarked in s.change)
        .map(
          (s) =>
            (s.change as { [TypeName.UnreadMarked]: { marked: boolean } })[TypeName.UnreadMarked]
              .marked,
        ),
    ).toEqual([true, false]);

    // Marked again: Cassandra and a rebuild must carry the flag.
    h.publish.markUnread(c, 'K', 'phone');
    await h.publish.flush();
    await eventually('marked again', async () => (await h.read.unread(c, 'K')) === 1);
  });

  it("mark as unread in a group: the group joins the reader's badge; only the reader's devices hear", async () => {
    const c = markingGroup.id;
    send(c, 1, 'V', 'GROUP');
    h.publish.read(c, 'W', { seq: 1 });
    h.publish.read(c, 'X', { seq: 1 });
    await h.publish.flush();
    await eventually(
      'read',
      async () => (await h.read.watermark(c, 'W')) === 1 && (await h.read.watermark(c, 'X')) === 1,
    );
    await settled(); // the reads' window told V
    expect(await h.read.badge('W')).toEqual([]);
    const pushes = h.out.updates.length;

    h.publish.markUnread(c, 'W', 'phone');
    await h.publish.flush();
    await eventually('marked', async () => (await h.read.unread(c, 'W')) === 1);
    expect(await h.read.badge('W')).toEqual([c]); // a group counts once, as itself
    expect(await h.read.watermark(c, 'W')).toBe(1);
    await settled();
    // W's devices get the sync; X (who read too) and V (the sender) get nothing at all.
    const pushed = h.out.updates.slice(pushes);
    expect(pushed.map((u) => u.user_id)).toEqual(['W']);
    expect(syncsOf('W', c, pushed)).toEqual([
      {
        conversation_id: c,
        unread_count: 1,
        badge_count: 1,
        read_up_to_seq: 1,
        origin_device_id: 'phone',
      },
    ]);
    expect(await h.read.unread(c, 'X')).toBe(0);
    expect(await h.read.badge('X')).toEqual([]);
    expect(await h.read.badge('V')).toEqual([]);

    // W's next read (from another device, moving nothing) clears the mark and the badge.
    h.publish.read(c, 'W', { seq: 1 }, 'laptop');
    await h.publish.flush();
    await eventually('cleared', async () => (await h.read.unread(c, 'W')) === 0);
    await eventually('badge cleared', async () => (await h.read.badge('W')).length === 0);
  });

  it('replaying every input twice (npm run replay) changes nothing', async () => {
    await caughtUp(h);
    const before = await snapshot(h, all);
    const to = new Date(Date.now() + 1000).toISOString();
    for (let i = 0; i < 2; i++) {
      const result = await runScript(h, 'replay.ts', ['--from-offset', '0', '--to', to]);
      expect(result.stderr).not.toMatch(/^error/m);
      expect(result.code).toBe(0);
      expect(await snapshot(h, all)).toEqual(before);
      expect((await details(group.id, `${group.id}-3`, 'B')).status).toBe('deleted');
    }
    expect(await h.read.unread(marking.id, 'K')).toBe(1); // still marked
  }, 300_000);

  it('Cassandra agrees (deleted → 404 there too) and a rebuild after a Redis loss restores the same counts, badges and flags', async () => {
    await caughtUp(h);
    await persisterCaughtUp(h);
    const cassandra = new CassandraReceiptDetails(h.durable!);
    const query = { conversationId: group.id, messageId: `${group.id}-3`, viewer: 'B' };
    expect((await cassandra.lookup(query)).status).toBe('deleted');
    expect((await cassandra.lookup({ ...query, messageId: `${group.id}-2` })).status).toBe('found');
    expect(await h.durable!.unreadMarks(marking.id)).toEqual(new Map([['K', expect.any(Number)]]));

    await h.stopPipeline();
    const before = await snapshot(h, all);
    const lost = await scanKeys(h.redis, h.keys.all());
    await h.redis.del(...lost);
    const result = await runScript(h, 'rebuild.ts', []);
    expect(result.stderr).not.toMatch(/error/);
    expect(result.code).toBe(0);
    expect(await snapshot(h, all)).toEqual(before);
    expect((await details(group.id, `${group.id}-3`, 'B')).status).toBe('deleted');

    // The rebuilt state goes on: a receipt naming the deleted message is still refused.
    await h.startPipeline();
    const dead = h.out.deadLetters.length;
    h.publish.read(group.id, 'C', { messageId: `${group.id}-3` });
    await h.publish.flush();
    await eventually('refused after the rebuild', () =>
      h.out.deadLetters
        .slice(dead)
        .some((d) => d.reason === 'MESSAGE_DELETED' && d.detail.includes(group.id)),
    );
  }, 180_000);
});
