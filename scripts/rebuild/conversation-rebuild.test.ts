import type { MessageRecord } from '../../stores/cassandra/durable-state-reader';
import { MessageSelection, badgeSources, effectiveWatermarks } from './conversation-rebuild';

const member = (userId: string, active = true) => ({ userId, active, listed: active });
const w = (readSeq: number, deliveredSeq: number) => ({
  readSeq,
  readAt: 0,
  deliveredSeq,
  deliveredAt: 0,
});
const msg = (seq: number, senderId: string, sentAt = seq): MessageRecord => ({
  seq,
  messageId: `m${seq}`,
  senderId,
  sentAt,
});

describe('effectiveWatermarks', () => {
  it('takes the higher of the join seq and the recorded advances; delivered is never below read', () => {
    const { read, delivered } = effectiveWatermarks(
      [member('a'), member('b'), member('c')],
      new Map([
        ['b', 7],
        ['c', 2],
      ]),
      new Map([
        ['a', w(5, 3)],
        ['c', w(4, 9)],
      ]),
    );
    expect(Object.fromEntries(read)).toEqual({ a: 5, b: 7, c: 4 });
    expect(Object.fromEntries(delivered)).toEqual({ a: 5, b: 7, c: 9 });
  });

  it('keeps the watermarks of removed members, as Redis does', () => {
    const { read } = effectiveWatermarks(
      [member('gone', false)],
      new Map(),
      new Map([['gone', w(3, 3)]]),
    );
    expect(read.get('gone')).toBe(3);
  });
});

describe('MessageSelection', () => {
  it('keeps every message some current member has not read, and every recent one', () => {
    const read = new Map([
      ['a', 10],
      ['b', 6],
    ]);
    const select = new MessageSelection(['a', 'b'], read, 1000);
    expect(select.floor).toBe(6);
    expect(select.keep(msg(7, 'a', 0))).toBe(true); // unread by b
    expect(select.keep(msg(6, 'a', 0))).toBe(false); // read by all, old
    expect(select.keep(msg(5, 'a', 1500))).toBe(true); // read by all, but recent
  });

  it('keeps only recent messages of a conversation without current members', () => {
    const select = new MessageSelection([], new Map(), 1000);
    expect(select.keep(msg(99, 'a', 999))).toBe(false);
    expect(select.keep(msg(99, 'a', 1000))).toBe(true);
  });
});

describe('badgeSources', () => {
  const messages = [msg(3, 'a'), msg(2, 'b'), msg(1, 'a')];

  it('gives a group member with unread messages the group as source', () => {
    const read = new Map([
      ['a', 3],
      ['b', 2],
      ['c', 3],
    ]);
    expect(badgeSources('g', 'GROUP', ['a', 'b', 'c'], read, messages)).toEqual([
      { userId: 'b', source: 'g' },
    ]);
  });

  it('gives a direct-chat member the peer who wrote what they have not read', () => {
    const read = new Map([
      ['a', 3],
      ['b', 2],
    ]);
    expect(badgeSources('d', 'DIRECT', ['a', 'b'], read, messages)).toEqual([
      { userId: 'b', source: 'a' },
    ]);
  });

  it('gives no badge to removed members or members who read everything', () => {
    const read = new Map([['a', 3]]);
    expect(badgeSources('g', 'GROUP', ['a'], read, messages)).toEqual([]);
  });
});
