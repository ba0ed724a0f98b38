import type { ConversationState } from '../../stores/state/conversation-state';
import type { ConversationWrites } from '../../stores/state/conversation-writes';
import type { EngineStep } from './engine-step';

/**
 * helpers.lua's refreshCore. A conversation's core keys share one expiry (meta, with its members
 * and watermarks, the message index (`ix`, or msg and msgs); and the deleted ids and unread marks where a conversation has
 * them). Refreshing costs three EXPIREs, so an active conversation refreshes at most once per 1/24 of the TTL: its keys
 * live between 23/24 of the TTL and the whole TTL after its last event. `force` refreshes now
 * (keys were just created, or a set emptied and created again). When the last refresh was shows
 * in meta's expiry (ConversationState.metaExpiresAt, the TTL before it: as loaded, or as this
 * process's own refresh since set it); no field of meta holds it (an older build's `touched`
 * goes with the next refresh).
 *
 * EXPIRE of a missing key does nothing in Redis, so a key that does not exist at this point is
 * not expired: created later in the step (by a later call), it has no expiry, exactly as after
 * the scripts, until the next refresh.
 */
/** How often a key's expiry is refreshed at most: its TTL stays between 23/24 and all of it. */
export function expiryRefreshMs(ttlSeconds: number): number {
  return (ttlSeconds * 1000) / 24;
}

export function refreshCore(
  state: ConversationState,
  writes: ConversationWrites,
  step: EngineStep,
  force: boolean,
): void {
  const { now, ttlSeconds } = step;
  const ttlMs = ttlSeconds * 1000;
  const last = state.metaExpiresAt === null ? 0 : state.metaExpiresAt - ttlMs;
  if (!force && now - last < expiryRefreshMs(ttlSeconds)) return;
  state.metaExpiresAt = now + ttlMs;
  if (state.staleTouched) writes.metaAsIs.delete('touched');
  state.staleTouched = false;
  writes.metaAsIs.expire(ttlSeconds);
  writes.expireIndex(state, ttlSeconds);
  if (state.deleted.size > 0) writes.deleted.expire(ttlSeconds);
  if (state.marked.size > 0) writes.marked.expire(ttlSeconds);
}
