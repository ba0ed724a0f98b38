import type { ReceiptResult } from '../../stores/redis/conversation-store';
import { commandsOf, expired, receipt, stateOf, stepAt } from '../../tests/support/engine-fixtures';
import { applyMessagesDeleted } from './messages-deleted';
import { applyMessagesSent } from './messages-sent';
import { applyReceipts } from './apply-receipts';

/** ana sent m1, m2, m3; bo read up to 1, cy up to 2, dee nothing. */
const group = () =>
  stateOf({
    kind: 'GROUP',
    members: ['ana', 'bo', 'cy', 'dee'],
    read: { ana: 3, bo: 1, cy: 2, dee: 0 },
    dlvd: { ana: 3, bo: 1, cy: 2, dee: 0 },
    messages: [
      ['m1', 1, 'ana'],
      ['m2', 2, 'ana'],
      ['m3', 3, 'ana'],
    ],
    deliveredBy: { m3: ['bo'] },
  });

const applied = (r: ReceiptResult | undefined) => {
  if (!r?.applied) throw new Error(`not applied: ${JSON.stringify(r)}`);
  return r;
};

describe('applyMessagesDeleted', () => {
  it('forgets the message: unread counts drop, whoever had only it unread is caught up', () => {
    const state = group();
    const step = stepAt();
    const [result] = applyMessagesDeleted(state, [{ messageId: 'm3' }], step);
    expect(result).toMatchObject({ removed: true, seq: 3, sender: 'ana', kind: 'GROUP' });
    expect(result!.caughtUp).toEqual(['cy']); // bo still has m2, dee m1 and m2
    // Everyone it was unread for hears their new count; ana (its sender) does not.
    expect(result!.recounted).toEqual([
      { userId: 'bo', unread: 1, readUpTo: 1 },
      { userId: 'cy', unread: 0, readUpTo: 2 },
      { userId: 'dee', unread: 2, readUpTo: 0 },
    ]);
    expect(state.countAfter(1)).toBe(1);
    expect(state.message('m3')).toBeUndefined();
    expect(state.deliveredBy('m3')).toBeUndefined();
    expect(state.isDeleted('m3')).toBe(true);
    expect(state.read.get('cy')).toBe(2); // no watermark moves
    expect(state.lastSeq).toBe(3);
    expect(commandsOf(step)).toEqual(
      expect.arrayContaining([
        // Either form the entry may have been written in (base 36, or the decimal of older builds).
        ['zrem', 'ix', '2:m3|ana#rv', '2:m3|ana|1003'],
        // Who confirmed it by id: asked of everyone who is or was a member.
        ['hdel', 'dlv', '2:m3:ana', '2:m3:bo', '2:m3:cy', '2:m3:dee'],
        ['hset', 'deleted', 'm3', '3'],
      ]),
    );
    // A conversation of today's layout has no dlv:<id> hash to delete.
    expect(commandsOf(step).filter((c) => c[1] === 'dlv:m3')).toEqual([]);
    expect(expired(step)).toContain('deleted'); // created: joins the core keys' expiry
  });

  it('forgets the confirmations of a former member too (their watermarks stay, so may their confirmations)', () => {
    const state = group();
    state.removeMember('dee');
    const step = stepAt();
    applyMessagesDeleted(state, [{ messageId: 'm3' }], step);
    const hdel = commandsOf(step).find((c) => c[0] === 'hdel' && c[1] === 'dlv');
    expect(hdel).toContain('2:m3:dee');
  });

  it("deletes an older build's delivered-by hash of the message where the conversation may have one", () => {
    const state = group();
    state.olderKeys = true;
    const step = stepAt();
    applyMessagesDeleted(state, [{ messageId: 'm3' }], step);
    expect(commandsOf(step)).toContainEqual(['del', 'dlv:m3']);
  });

  it('twice, or an unknown id, changes nothing but remembering the id', () => {
    const state = group();
    applyMessagesDeleted(state, [{ messageId: 'm3' }], stepAt());
    const again = stepAt(stepAt().now + 1);
    const [second, unknown] = applyMessagesDeleted(
      state,
      [{ messageId: 'm3' }, { messageId: 'never' }],
      again,
    );
    expect(second).toMatchObject({ removed: false, caughtUp: [], recounted: [] });
    expect(unknown).toMatchObject({ removed: false, seq: 0, sender: null, caughtUp: [] });
    expect(commandsOf(again).filter((c) => c[1] !== 'meta')).toEqual([
      ['hset', 'deleted', 'never', '0'],
    ]);
  });

  it('a member who marked the conversation unread keeps it in the badge', () => {
    const state = group();
    state.markUnread('cy', '7');
    const [result] = applyMessagesDeleted(state, [{ messageId: 'm3' }], stepAt());
    expect(result!.caughtUp).toEqual([]);
    // Told 1, not 0: a conversation marked unread shows at least 1.
    expect(result!.recounted).toContainEqual({ userId: 'cy', unread: 1, readUpTo: 2 });
  });

  it('a deleted id is never indexed again (a replayed MessageSent)', () => {
    const state = group();
    applyMessagesDeleted(state, [{ messageId: 'm3' }], stepAt());
    const [again] = applyMessagesSent(
      state,
      [{ messageId: 'm3', seq: 3, senderId: 'ana', kind: 'GROUP', sentAt: 1003 }],
      stepAt(),
    );
    expect(again).toMatchObject({ behind: [] });
    expect(state.message('m3')).toBeUndefined();
    expect(state.countAfter(0)).toBe(2);
  });
});

describe('receipts and deleted messages', () => {
  it('a read or delivery naming only deleted ids is refused; with a live id, the live one counts', () => {
    const state = group();
    state.loadDeliveredBy('m1', []);
    applyMessagesDeleted(state, [{ messageId: 'm2' }], stepAt());
    const [read, only, mixed] = applyReceipts(
      state,
      [
        receipt('dee', { type: 'read_id', messageId: 'm2' }),
        receipt('dee', { type: 'dlv_ids', messageIds: ['m2'] }),
        receipt('dee', { type: 'dlv_ids', messageIds: ['m2', 'm1'] }),
      ],
      stepAt(),
    );
    expect(read).toEqual({ applied: false, reason: 'MESSAGE_DELETED' });
    expect(only).toEqual({ applied: false, reason: 'MESSAGE_DELETED' });
    expect(applied(mixed).newlyDeliveredIds).toEqual(['m1']);
  });

  it('a read of what is left after a deletion leaves nothing unread', () => {
    const state = group();
    applyMessagesDeleted(state, [{ messageId: 'm3' }], stepAt());
    const [r] = applyReceipts(
      state,
      [receipt('bo', { type: 'read_id', messageId: 'm2' })],
      stepAt(),
    );
    expect(applied(r)).toMatchObject({ unread: 0, atEnd: false, newRead: 2 });
  });
});

describe('mark as unread', () => {
  it('sets a flag (1 unread, no watermark moves), once; the next read clears it, even moving nothing', () => {
    const state = group();
    const step = stepAt();
    const [set, twice] = applyReceipts(
      state,
      [receipt('cy', { type: 'mark_unread' }), receipt('cy', { type: 'mark_unread' })],
      step,
    );
    expect(applied(set)).toMatchObject({
      unread: 1,
      newRead: 2,
      changed: false,
      unreadMark: 'set',
    });
    expect(applied(twice).unreadMark).toBeUndefined();
    expect(state.read.get('cy')).toBe(2);
    expect(commandsOf(step)).toEqual(
      expect.arrayContaining([['hset', 'marked', 'cy', expect.any(String)]]),
    );
    expect(expired(step)).toContain('marked');

    const read = stepAt();
    const [cleared] = applyReceipts(state, [receipt('cy', { type: 'read', seq: 2 })], read);
    expect(applied(cleared)).toMatchObject({ unreadMark: 'cleared', changed: false, unread: 1 });
    expect(state.marked.has('cy')).toBe(false);
    expect(commandsOf(read)).toEqual(expect.arrayContaining([['hdel', 'marked', 'cy']]));
  });

  it('with messages unread, the count is theirs; a non-member is held', () => {
    const state = group();
    const [dee, outsider] = applyReceipts(
      state,
      [receipt('dee', { type: 'mark_unread' }), receipt('zed', { type: 'mark_unread' })],
      stepAt(),
    );
    expect(applied(dee).unread).toBe(3);
    expect(outsider).toEqual({ applied: false, reason: 'NOT_A_MEMBER' });
  });
});
