import type { MessageSentResult, SentMessage } from '../../stores/redis/conversation-store';
import type { ConversationState } from '../../stores/state/conversation-state';
import { conversationWrites } from '../../stores/state/conversation-writes';
import { formatNumber } from '../../stores/state/stored-values';
import type { EngineStep } from './engine-step';
import { refreshCore } from './refresh-core';
import { trimMessages } from './trim-messages';
import { sendersCovered, WindowFold } from './window-fold';

/**
 * messages-sent-1.lua over memory: records consecutive messages of one conversation (in topic
 * order) and moves each sender's own watermarks to its messages, with one result per message
 * as if each had been applied alone, one after the other.
 *
 * - An unknown conversation takes the first message's kind; later kinds are ignored.
 * - A sender is a member (the messaging system is the authority on who sends), from its first
 *   message of the run on: earlier messages of the run do not count it.
 * - A message's `behind` (badge candidates) are the members other than the sender who have not
 *   read it, as the earlier messages of the run left the watermarks (a sender has read its own
 *   earlier messages), so a replay converges to the same badges.
 * - last_seq only grows; last_at follows the message that raised it (an older build's last_msg,
 *   the latest id, which no rule reads, goes with that write).
 * - `senderCaughtUp`: sending took the sender to the end over messages they had not read, so
 *   their badge loses the source; not when they had nothing unread (nothing to remove: a write
 *   of the badge would change nothing).
 * - `members` lists every member for a direct chat (the peer is needed), none for a group.
 * - A message id that was deleted never comes back (a replay of its MessageSent after the
 *   deletion): it changes nothing and its result adds no badge.
 * - Groups: what sending read folds into the open window like a read receipt (reply-implied
 *   reads): the seqs the sender's watermarks moved over, with the other senders whose messages
 *   lie there, so their read and delivered counts are told at the window's close. Without it a
 *   member's own message that overtook their read receipt (the input topics are read side by
 *   side) left those counts untold for good: the receipt then moves nothing. The fold carries
 *   version 0 (the window's version is the receipts' to raise) and the message's sent_at.
 *   The fold looks at the run's messages all indexed: a lower seq later in the run (out of
 *   order) is already seen as read by an earlier, higher message of another sender (it is).
 *   messages-sent-1.lua folds the same way.
 *   `windowOpen` says whether a window is open after the run.
 * The order of `behind` and `members` is unspecified, as SMEMBERS' is.
 */
export function applyMessagesSent(
  state: ConversationState,
  messages: readonly SentMessage[],
  step: EngineStep,
): MessageSentResult[] {
  if (messages.length === 0) return [];
  const writes = conversationWrites(state, step.writes, step.ttlSeconds);
  const hadKind = state.kind !== null;
  const kind = state.kind ?? messages[0]!.kind;
  const previousLast = state.lastSeq;
  const hadIndex = state.indexedCount > 0;
  const window = new WindowFold();

  // A message id sent twice keeps its last value, as one HSET/ZADD per message would.
  for (const m of messages) {
    if (state.isDeleted(m.messageId)) continue;
    // Above every seq the conversation had: a message Redis never held, so nobody confirmed it
    // by id (a redo's messages were flushed, last_seq with them, and are at or below it).
    if (m.seq > previousLast && state.message(m.messageId) === undefined)
      state.noDeliveriesYet(m.messageId);
    const previous = state.message(m.messageId);
    state.putMessage(m.messageId, m.seq, m.senderId, String(m.sentAt));
    writes.indexMessage(m.messageId, m.seq, m.senderId, String(m.sentAt), previous);
  }

  // Senders who were not members join at their first message of the run (its index).
  const joinedAt = new Map<string, number>();
  messages.forEach((m, i) => {
    if (state.addMember(m.senderId)) {
      joinedAt.set(m.senderId, i);
      writes.members.add(m.senderId);
    }
  });
  const all = [...state.members];

  let lastSeq = previousLast;
  let lastAt: string | null = null;
  const results: MessageSentResult[] = [];
  for (const [i, m] of messages.entries()) {
    const { seq, senderId: sender } = m;
    if (state.isDeleted(m.messageId)) {
      results.push({
        kind,
        lastSeq,
        senderCaughtUp: false,
        hasHeld: state.hasHeld,
        behind: [],
        members: [],
        windowOpen: false,
      });
      continue;
    }
    const hadUnread = (state.read.get(sender) ?? 0) < lastSeq;
    const seenBefore = Math.min(state.read.get(sender) ?? 0, state.dlvd.get(sender) ?? 0);
    if (seq > lastSeq) {
      lastSeq = seq;
      lastAt = String(m.sentAt);
    }
    if (seq > (state.read.get(sender) ?? 0)) {
      state.setWatermark('read', sender, seq);
      writes.read.set(sender, formatNumber(seq));
    }
    if (seq > (state.dlvd.get(sender) ?? 0)) {
      state.setWatermark('dlvd', sender, seq);
      writes.dlvd.set(sender, formatNumber(seq));
    }
    if (kind !== 'DIRECT' && seq > seenBefore) {
      const moved: Array<[number, number]> = [[seenBefore, seq]];
      const told = sendersCovered(state, moved, sender);
      if (told.size > 0) window.add(moved, told, 0, m.sentAt);
    }
    const behind: string[] = [];
    const present: string[] = [];
    for (const member of all) {
      if ((joinedAt.get(member) ?? -1) > i) continue;
      present.push(member);
      if (member !== sender && (state.read.get(member) ?? 0) < seq) behind.push(member);
    }
    results.push({
      kind,
      lastSeq,
      senderCaughtUp: hadUnread && (state.read.get(sender) ?? 0) >= lastSeq,
      hasHeld: state.hasHeld,
      behind,
      members: kind === 'DIRECT' ? present : [],
      windowOpen: false, // known once the whole run is folded in
    });
  }

  if (!hadKind) {
    state.kind = kind;
    writes.create(kind);
  }
  if (lastSeq > previousLast && lastAt !== null) {
    state.lastSeq = lastSeq;
    state.lastAt = lastAt;
    writes.meta.set('last_seq', formatNumber(lastSeq));
    writes.meta.set('last_at', lastAt);
    if (state.staleLastMsg) writes.meta.delete('last_msg');
    state.staleLastMsg = false;
  }
  const windowOpen = kind !== 'DIRECT' && window.apply(state, writes, step.ttlSeconds);
  for (const result of results) result.windowOpen = windowOpen;
  trimMessages(state, writes, step);
  // The first message creates msg and msgs (again, after deletions emptied them): they join the
  // core keys' expiry now.
  refreshCore(state, writes, step, !hadKind || previousLast === 0 || !hadIndex);
  return results;
}
