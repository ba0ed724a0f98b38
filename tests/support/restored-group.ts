import type { RestoredConversation } from '../../stores/redis/hot-state-restorer';

type RestoredMessage = RestoredConversation['messages'][number];

/**
 * A group as the rebuild restores it (HotStateRestorer): `messages` as given, the first member
 * having read and received them all, the others none; no logs, deletions or marks.
 */
export function restoredGroup(
  conversationId: string,
  messages: RestoredMessage[],
  members: string[] = ['ann', 'bo'],
): RestoredConversation {
  const last = messages.reduce<RestoredMessage | null>(
    (a, m) => (a === null || m.seq > a.seq ? m : a),
    null,
  );
  const upTo = Object.fromEntries(members.map((u, i) => [u, i === 0 ? (last?.seq ?? 0) : 0]));
  return {
    conversationId,
    kind: 'GROUP',
    deleted: [],
    marked: {},
    last: last && { seq: last.seq, messageId: last.messageId, at: last.sentAt },
    members,
    former: [],
    read: upTo,
    delivered: { ...upTo },
    messages,
    readLog: {},
    deliveredLog: {},
    deliveredById: {},
  };
}
