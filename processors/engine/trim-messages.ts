import type { ConversationState } from '../../stores/state/conversation-state';
import type { ConversationWrites } from '../../stores/state/conversation-writes';
import type { EngineStep } from './engine-step';

/**
 * Bounds a conversation's hot message index (issue: an active conversation's message index (`ix`, or msg/msgs), delivered-
 * by hashes and read/delivered logs otherwise grow for ever, as any event refreshes their TTL).
 * Above `step.maxIndexedMessages` plus a tenth (so a trim runs once per many messages, not per
 * message), the oldest messages go: their msg fields, msgs entries and deliveries by id, and
 * each member's log entries below the oldest message kept (a log entry at seq s tells when the
 * messages up to s were read; below the oldest kept one it serves no message). Receipt details
 * and receipts by id then know the newest messages only; an unread count beyond the index shows
 * its size (the cap), as ZCOUNT of msgs counts.
 */
export function trimMessages(
  state: ConversationState,
  writes: ConversationWrites,
  step: EngineStep,
): void {
  const max = step.maxIndexedMessages;
  if (state.indexedCount <= max + Math.ceil(max / 10)) return;
  const removed = state.trimOldest(state.indexedCount - max);
  const users = state.everyone();
  for (const [id, stored] of removed) {
    writes.unindexMessage(id, stored);
    writes.forgetDeliveredBy(id, users, state.olderKeys);
  }
  const lowest = state.lowestIndexedSeq;
  if (lowest === undefined) return;
  for (const member of state.members) {
    if (state.logsInFields) writes.logFields(state.kind, state.dropLogBelow(member, lowest));
    else writes.memberLog(member).removeWithin(lowest);
  }
}
