import { aboveQuietFloors, summariseWindow } from './group-summary';
import type { WindowContents } from '../../stores/redis/conversation-store';
import { ConversationState } from '../../stores/state/conversation-state';
import { countField } from '../../stores/state/stored-values';

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

describe('aboveQuietFloors', () => {
  it('leaves out messages told higher before (a redo that has not caught up), tells those at or above, and says which floors they passed', () => {
    const summaries = summariseWindow(
      'g',
      windowOf({
        members: ['s', 't', 'a', 'b', 'c'],
        reads: new Map([
          ['a', 9],
          ['b', 9],
        ]),
        delivered: new Map([['c', 9]]),
        messages: [
          { id: 'm9', seq: 9, sender: 's', deliveredByIds: [] }, // read 2, delivered 3
          { id: 'm8', seq: 8, sender: 's', deliveredByIds: [] }, // the same
          { id: 'm7', seq: 7, sender: 't', deliveredByIds: [] }, // the same
        ],
      }),
      () => true,
      0,
      2000,
    );
    const state = new ConversationState('g', 'p:{c:g}:');
    state.setQuietFloor(countField('read', 'm9'), 3); // told "read by 3" before: 2 now is older
    state.setQuietFloor(countField('delivered', 'm8'), 3); // told "delivered to 3": at the floor
    state.setQuietFloor(countField('read', 'm7'), 4); // t's only message: t is not told
    const { summaries: told, passed } = aboveQuietFloors(summaries, state);
    expect(told.map((s) => [s.recipient, s.summary.messages.map((m) => m.message_id)])).toEqual([
      ['s', ['m8']],
    ]);
    expect(passed).toEqual([countField('delivered', 'm8')]);
    // Nothing quiet: the summaries as they were.
    expect(aboveQuietFloors(summaries, new ConversationState('g', 'p:{c:g}:'))).toEqual({
      summaries,
      passed: [],
    });
  });
});
