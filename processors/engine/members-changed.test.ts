import { commandsOf, expired, NOW, stateOf, stepAt } from '../../tests/support/engine-fixtures';
import { applyMemberChanges } from './members-changed';

describe('applyMemberChanges', () => {
  it("gives an unknown conversation the first join's kind; a removal never gives one", () => {
    const state = stateOf();
    const result = applyMemberChanges(
      state,
      [
        { op: 'remove', userId: 'x', kind: 'GROUP' },
        { op: 'add', userId: 'ana', kind: 'DIRECT' },
        { op: 'add', userId: 'bo', kind: 'GROUP' },
      ],
      stepAt(),
    );
    expect(result).toEqual({ kind: 'DIRECT', hasHeld: false, lastSeq: 0 });
    expect(state.kind).toBe('DIRECT');

    const removalOnly = stateOf();
    const step = stepAt();
    const alone = applyMemberChanges(
      removalOnly,
      [{ op: 'remove', userId: 'x', kind: 'GROUP' }],
      step,
    );
    // The reply falls back on the first change's kind; meta gets only its expiry refreshed.
    expect(alone.kind).toBe('GROUP');
    expect(removalOnly.kind).toBeNull();
    expect(commandsOf(step)).toEqual([['expire', 'meta', '3600']]);
  });

  it('starts a joiner at the last message, keeping a watermark it already has (HSETNX, not max)', () => {
    const state = stateOf({
      kind: 'GROUP',
      members: ['ana'],
      read: { ana: 7, bo: 2 },
      dlvd: { ana: 7, bo: 3 },
      messages: [['m9', 9, 'ana']],
    });
    const result = applyMemberChanges(
      state,
      [
        { op: 'add', userId: 'bo', kind: 'GROUP' }, // rejoins: keeps 2 and 3
        { op: 'add', userId: 'cy', kind: 'GROUP' },
        { op: 'remove', userId: 'cy', kind: 'GROUP' }, // left again: still seeded
      ],
      stepAt(),
    );
    expect(result.lastSeq).toBe(9);
    expect(Object.fromEntries(state.read)).toEqual({ ana: 7, bo: 2, cy: 9 });
    expect(Object.fromEntries(state.dlvd)).toEqual({ ana: 7, bo: 3, cy: 9 });
    expect([...state.members].sort()).toEqual(['ana', 'bo']);
  });

  it('removes the last member from meta, keeping its watermark, and refreshes the expiry', () => {
    const state = stateOf({ kind: 'GROUP', members: ['ana'], read: { ana: 0 }, touched: NOW });
    const step = stepAt();
    applyMemberChanges(state, [{ op: 'remove', userId: 'ana', kind: 'GROUP' }], step);
    expect(commandsOf(step).filter((c) => c[1] === 'meta' && c[0] !== 'expire')).toEqual([
      ['hdel', 'meta', 'm:ana'],
    ]);
    // A removal forces the refresh, as the script does.
    expect(expired(step).sort()).toEqual(['meta']);
  });

  it('does not refresh a known conversation that only gained members, until an hour passed', () => {
    const state = stateOf({ kind: 'GROUP', members: ['ana'], read: { ana: 0 }, touched: NOW });
    const step = stepAt(NOW + 1000);
    applyMemberChanges(state, [{ op: 'add', userId: 'bo', kind: 'GROUP' }], step);
    expect(expired(step)).toEqual([]);
    expect(commandsOf(step)).toEqual([['hset', 'meta', 'm:bo', '1', 'r:bo', '0', 'd:bo', '0']]);
  });

  it('says whether receipts are held', () => {
    const state = stateOf({ kind: 'GROUP', hasHeld: true });
    const result = applyMemberChanges(state, [{ op: 'add', userId: 'a', kind: 'GROUP' }], stepAt());
    expect(result.hasHeld).toBe(true);
  });
});
