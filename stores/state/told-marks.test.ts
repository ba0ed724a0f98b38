import { ConversationState } from './conversation-state';
import { countField, syncField } from './stored-values';
import { ToldMarks } from './told-marks';

describe('ToldMarks', () => {
  it('raises a loaded state to the marks told since, never lowers one, and forgets the least recently told first', () => {
    const marks = new ToldMarks(2);
    marks.remember([
      ['a', 'r:B', '5|105|a-5'],
      ['a', 'r:B', '3|103|a-3'], // a lower mark acknowledged later (an earlier step's): kept at 5
      ['b', 'd:C', '2|202|b-2'],
    ]);
    const a = new ConversationState('a', 'p:{c:a}:');
    a.setNotified('r:B', '4|104|a-4');
    marks.raise(a);
    expect(a.notified.get('r:B')).toBe('5|105|a-5');
    const ahead = new ConversationState('a', 'p:{c:a}:');
    ahead.setNotified('r:B', '9|109|a-9'); // Redis is ahead (a later step landed): kept
    marks.raise(ahead);
    expect(ahead.notified.get('r:B')).toBe('9|109|a-9');

    marks.remember([['a', syncField('B'), '7']]); // B's devices were told B read up to 7
    expect(marks.syncedUpTo('a', 'B')).toBe(7);
    expect(marks.syncedUpTo('a', 'C')).toBe(0);
    const synced = new ConversationState('a', 'p:{c:a}:');
    marks.raise(synced);
    expect([...synced.notified.keys()]).toEqual(['r:B']); // not a state field

    // A group count a window close told is not kept (nothing reads it here): no conversation.
    marks.remember([['g', countField('read', 'g-1'), '3']]);
    expect(marks.size).toBe(2);

    marks.remember([['c', 'r:D', '1|301|c-1']]); // a third conversation: 'b' was told least recently
    expect(marks.size).toBe(2);
    const forgotten = new ConversationState('b', 'p:{c:b}:');
    marks.raise(forgotten);
    expect(forgotten.notified.get('d:C')).toBeUndefined();
    expect(marks.syncedUpTo('a', 'B')).toBe(7);
  });
});
