import { summariseWindow } from './group-summary';
import type { WindowContents } from '../../stores/redis/conversation-store';

function windowOf(partial: Partial<WindowContents>): WindowContents {
  return {
    lo: 0,
    hi: 10,
    version: 1,
    sourceAt: 0,
    absorbed: 1,
    unwindowed: 1,
    members: [],
    reads: new Map(),
    delivered: new Map(),
    messages: [],
    ...partial,
  };
}

describe('summariseWindow', () => {
  const members = ['s', 'a', 'b', 'c'];

  it('counts readers and deliveries among the members other than the sender', () => {
    const summaries = summariseWindow(
      'g',
      windowOf({
        members,
        reads: new Map([
          ['s', 5],
          ['a', 5],
          ['b', 4],
          ['c', 0],
        ]),
        delivered: new Map([
          ['s', 5],
          ['a', 5],
          ['b', 5],
          ['c', 0],
        ]),
        messages: [{ id: 'm5', seq: 5, sender: 's', deliveredByIds: ['c'] }],
      }),
      () => true,
      1000,
      3000,
    );
    expect(summaries).toEqual([
      {
        recipient: 's',
        summary: {
          conversation_id: 'g',
          messages: [
            {
              message_id: 'm5',
              seq: 5,
              status: 'READ',
              read_count: 1,
              delivered_count: 3,
              total: 3,
            },
          ],
          window_start: 1000,
          window_end: 3000,
        },
      },
    ]);
  });

  it('never counts a reader who does not share reads, but counts them as delivered', () => {
    const [only] = summariseWindow(
      'g',
      windowOf({
        members,
        reads: new Map([['a', 5]]),
        delivered: new Map([['a', 5]]),
        messages: [{ id: 'm5', seq: 5, sender: 's', deliveredByIds: [] }],
      }),
      (u) => u !== 'a',
      0,
      2000,
    );
    expect(only!.summary.messages).toMatchObject([
      { read_count: 0, delivered_count: 1, status: 'DELIVERED' },
    ]);
  });

  it('sends each sender one summary of all their messages, newest first, without those nobody received', () => {
    const summaries = summariseWindow(
      'g',
      windowOf({
        members,
        reads: new Map([['a', 6]]),
        messages: [
          { id: 'm6', seq: 6, sender: 'b', deliveredByIds: [] },
          { id: 'm7', seq: 7, sender: 'b', deliveredByIds: [] },
          { id: 'm5', seq: 5, sender: 'c', deliveredByIds: [] },
          { id: 'm2', seq: 2, sender: 'b', deliveredByIds: [] },
        ],
      }),
      () => true,
      0,
      2000,
    );
    expect(
      summaries.map((s) => [s.recipient, s.summary.messages.map((m) => m.message_id)]),
    ).toEqual([
      ['b', ['m6', 'm2']],
      ['c', ['m5']],
    ]);
  });

  it('tells no sender whose messages nobody received', () => {
    const summaries = summariseWindow(
      'g',
      windowOf({ members, messages: [{ id: 'm7', seq: 7, sender: 'b', deliveredByIds: [] }] }),
      () => true,
      0,
      2000,
    );
    expect(summaries).toEqual([]);
  });
});
