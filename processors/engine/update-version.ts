import type { ConversationState } from '../../stores/state/conversation-state';
import { conversationWrites } from '../../stores/state/conversation-writes';
import type { EngineStep } from './engine-step';

/**
 * The version of the next update about a conversation: one counter per conversation, kept in its
 * state and written with it (meta `uver`), so versions strictly increase per conversation in the
 * order updates are decided — a receipt held until its message arrived is told with a higher
 * version than a later, lower read told before it (a source offset would be lower).
 *
 * A state loaded from Redis may be behind versions an earlier incarnation told without writing
 * them (it died after producing, before its write-behind): the first version after a load starts
 * at the wall clock in microseconds-per-update units (`now` × 1000) if that is higher, so it
 * passes anything told before the load (at most 1,000 updates a millisecond per conversation,
 * and owners' clocks within that of each other). Versions stay below 2^53 until the year 2255.
 */
export function nextUpdateVersion(state: ConversationState, step: EngineStep): number {
  if (!state.versionFloored) {
    state.updateVersion = Math.max(state.updateVersion, step.now * 1000);
    state.versionFloored = true;
  }
  state.updateVersion += 1;
  conversationWrites(state, step.writes, step.ttlSeconds).meta.set(
    'uver',
    String(state.updateVersion),
  );
  return state.updateVersion;
}
