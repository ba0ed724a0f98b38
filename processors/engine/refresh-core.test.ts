import { conversationWrites } from '../../stores/state/conversation-writes';
import {
  commandsOf,
  expired,
  NOW,
  stateOf,
  stepAt,
  TTL,
} from '../../tests/support/engine-fixtures';
import { refreshCore } from './refresh-core';

/** refreshCore: when the core keys' expiry is refreshed, told by meta's expiry as loaded. */
describe('refreshCore', () => {
  const refreshed = (setUp: (s: ReturnType<typeof stateOf>) => void, now = NOW) => {
    const state = stateOf({ kind: 'GROUP', members: ['ana'] });
    setUp(state);
    const step = stepAt(now);
    refreshCore(state, conversationWrites(state, step.writes, TTL), step, false);
    return { state, step };
  };

  it('refreshes a state loaded with meta expiring later than 23/24 of the TTL from now only once it is due', () => {
    const fresh = (s: ReturnType<typeof stateOf>) => (s.metaExpiresAt = NOW + TTL * 1000 - 1_000);
    expect(expired(refreshed(fresh).step)).toEqual([]);
    // An hour of 24 later (1/24 of the TTL since meta's expiry was set): due.
    const later = NOW + (TTL * 1000) / 24;
    expect(expired(refreshed(fresh, later - 2_000).step)).toEqual([]);
    const { state, step } = refreshed(fresh, later);
    expect(expired(step)).toEqual(['meta']);
    expect(state.metaExpiresAt).toBe(later + TTL * 1000); // refreshed at `later`
  });

  it('refreshes a state loaded without an expiry on meta (or none known) at once', () => {
    expect(expired(refreshed(() => undefined).step)).toEqual(['meta']);
  });

  it("deletes an older build's 'touched' field with the refresh, once, and writes none", () => {
    const { state, step } = refreshed((s) => (s.staleTouched = true));
    expect(commandsOf(step)).toEqual([
      ['hdel', 'meta', 'touched'],
      ['expire', 'meta', String(TTL)],
    ]);
    expect(state.staleTouched).toBe(false);
    const again = stepAt(NOW + (TTL * 1000) / 24);
    refreshCore(state, conversationWrites(state, again.writes, TTL), again, false);
    expect(commandsOf(again)).toEqual([['expire', 'meta', String(TTL)]]);
  });
});
