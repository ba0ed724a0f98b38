import { commandsOf, stateOf, stepAt } from '../../tests/support/engine-fixtures';
import { applyMessagesSent } from './messages-sent';
import { replyImpliedUpdates, type Reply } from './reply-implied';

/** ana sent m1, m2; bo has read nothing and replies with m3, then m5 after ana's m4. */
const direct = (notified: Record<string, string> = {}) =>
  stateOf({
    kind: 'DIRECT',
    members: ['ana', 'bo'],
    read: { ana: 2, bo: 0 },
    dlvd: { ana: 2, bo: 0 },
    messages: [
      ['m1', 1, 'ana'],
      ['m2', 2, 'ana'],
    ],
    notified,
  });

const reply = (messageId: string, seq: number, senderId: string, extra: Partial<Reply> = {}) => ({
  messageId,
  seq,
  senderId,
  version: seq * 10,
  shareRead: true,
  ...extra,
});

const sendAndTell = (state: ReturnType<typeof direct>, replies: Reply[], step = stepAt()) => {
  applyMessagesSent(
    state,
    replies.map((r) => ({ ...r, kind: 'DIRECT' as const, sentAt: 1000 + r.seq })),
    step,
  );
  return replyImpliedUpdates(state, replies, step);
};

describe('replyImpliedUpdates', () => {
  it('tells the peer READ of its newest message each reply covers, once', () => {
    const state = direct();
    const step = stepAt();
    const updates = sendAndTell(
      state,
      [reply('m3', 3, 'bo'), reply('m4', 4, 'ana'), reply('m5', 5, 'bo'), reply('m6', 6, 'bo')],
      step,
    );
    expect(updates).toEqual([
      { to: 'ana', by: 'bo', messageId: 'm2', seq: 2, status: 'READ' },
      // ana replying covers bo's m3
      { to: 'bo', by: 'ana', messageId: 'm3', seq: 3, status: 'READ' },
      { to: 'ana', by: 'bo', messageId: 'm4', seq: 4, status: 'READ' },
      null, // nothing of ana's between m5 and m6
    ]);
    expect(state.notified.get('r:bo')).toBe('4');
    // Written behind with the step, as a receipt's marks: meta's 'tr:' fields.
    const meta = commandsOf(step).filter((c) => c[0] === 'hset' && c[1] === 'meta');
    expect(meta.flat()).toEqual(expect.arrayContaining(['tr:bo', '4', 'tr:ana', '3']));
    expect(commandsOf(step).some((c) => c[1] === 'notified')).toBe(false);
  });

  it('tells nothing a read receipt told before, nor twice in a redo', () => {
    const state = direct({ 'r:bo': '2|7|m2' });
    expect(sendAndTell(state, [reply('m3', 3, 'bo')])).toEqual([null]);
    const again = direct();
    sendAndTell(again, [reply('m3', 3, 'bo')]);
    expect(replyImpliedUpdates(again, [reply('m3', 3, 'bo')], stepAt())).toEqual([null]);
  });

  it('a sender who does not share reads tells DELIVERED', () => {
    const state = direct();
    expect(sendAndTell(state, [reply('m3', 3, 'bo', { shareRead: false })])).toEqual([
      { to: 'ana', by: 'bo', messageId: 'm2', seq: 2, status: 'DELIVERED' },
    ]);
    expect(state.notified.get('r:bo')).toBeUndefined();
  });

  it('a deleted reply, and any group message, tell nothing', () => {
    const state = direct();
    state.markDeleted('m3', 3);
    expect(sendAndTell(state, [reply('m3', 3, 'bo')])).toEqual([null]);
    const group = stateOf({
      kind: 'GROUP',
      members: ['ana', 'bo', 'cy'],
      read: { ana: 1, bo: 0, cy: 0 },
      dlvd: { ana: 1, bo: 0, cy: 0 },
      messages: [['m1', 1, 'ana']],
    });
    expect(replyImpliedUpdates(group, [reply('m2', 2, 'bo')], stepAt())).toEqual([null]);
  });
});
