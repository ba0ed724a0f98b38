import { HotStateRestorer, type RestoredConversation } from '../../stores/redis/hot-state-restorer';

/** What the serving phase asks for, as seeded. */
export interface ServingState {
  /** One user per size: the user in `n` conversations. */
  unreadUsers: Array<{ conversations: number; userId: string }>;
  direct: { conversationId: string; messageId: string; viewer: string };
  group: { conversationId: string; messageId: string; viewer: string; members: number };
  /** A member of `conversationId` who reports read and delivered receipts. */
  reporter: { userId: string; conversationId: string; messageId: string; seq: number };
}

const MESSAGES = 5;
const BATCH = 500;

/**
 * Seeds the hot state the serving phase reads, with the rebuild's writer (the same scripts that
 * put state back after a rebuild): users in `sizes` conversations each (five messages per
 * conversation, some read), a direct chat and a group of `groupSize` with read and delivered
 * logs for the receipt details. No Kafka: the pipeline is measured elsewhere.
 */
export async function seedServingState(
  restorer: HotStateRestorer,
  runId: string,
  sizes: number[],
  groupSize: number,
  now = Date.now(),
): Promise<ServingState> {
  const unreadUsers = sizes.map((n) => ({ conversations: n, userId: `sv${runId}-in${n}` }));
  for (const { userId, conversations } of unreadUsers) {
    for (let from = 0; from < conversations; from += BATCH) {
      const batch: RestoredConversation[] = [];
      for (let i = from; i < Math.min(conversations, from + BATCH); i++)
        batch.push(chat(`${userId}-c${i}`, [userId, `${userId}-peer${i}`], now - i * 1000, i % 3));
      await restorer.restoreConversations(batch);
      await restorer.restoreUsers(
        [],
        batch.map((c) => ({ userId, conversationId: c.conversationId, lastAt: c.last!.at })),
      );
    }
  }
  const direct = chat(`sv${runId}-direct`, [`sv${runId}-ana`, `sv${runId}-bo`], now, 3);
  const members = Array.from({ length: groupSize }, (_, i) => `sv${runId}-g${i}`);
  const group = chat(`sv${runId}-group`, members, now, MESSAGES - 2);
  await restorer.restoreConversations([direct, group]);
  await restorer.restoreUsers(
    [],
    [direct, group].flatMap((c) =>
      c.members.map((userId) => ({
        userId,
        conversationId: c.conversationId,
        lastAt: c.last!.at,
      })),
    ),
  );
  const asked = (c: RestoredConversation) => c.messages[1]!;
  return {
    unreadUsers,
    direct: {
      conversationId: direct.conversationId,
      messageId: asked(direct).messageId,
      viewer: asked(direct).senderId,
    },
    group: {
      conversationId: group.conversationId,
      messageId: asked(group).messageId,
      viewer: asked(group).senderId,
      members: groupSize,
    },
    reporter: {
      userId: direct.members[1]!,
      conversationId: direct.conversationId,
      messageId: direct.messages[MESSAGES - 1]!.messageId,
      seq: MESSAGES,
    },
  };
}

/**
 * A conversation whose first member sent MESSAGES messages, the latest at `lastAt`; every other
 * member received them all and read up to `read` (read and delivered logged a second apart).
 */
function chat(id: string, members: string[], lastAt: number, read: number): RestoredConversation {
  const sender = members[0]!;
  const messages = Array.from({ length: MESSAGES }, (_, i) => ({
    seq: i + 1,
    messageId: `${id}-m${i + 1}`,
    senderId: sender,
    sentAt: lastAt - (MESSAGES - 1 - i) * 60_000,
  }));
  const others = members.slice(1);
  const byMember = <T>(value: (member: string, i: number) => T) =>
    Object.fromEntries(others.map((m, i) => [m, value(m, i)]));
  // Members read at different points, so the receipt details hold both reads and deliveries.
  const readBy = (i: number) => (read + i) % (MESSAGES + 1);
  return {
    conversationId: id,
    kind: members.length === 2 ? 'DIRECT' : 'GROUP',
    deleted: [],
    marked: {},
    last: { seq: MESSAGES, messageId: `${id}-m${MESSAGES}`, at: lastAt },
    members,
    former: [],
    read: { [sender]: MESSAGES, ...byMember((_, i) => readBy(i)) },
    delivered: { [sender]: MESSAGES, ...byMember(() => MESSAGES) },
    messages,
    readLog: byMember((_, i) =>
      readBy(i) > 0 ? [{ seq: readBy(i), at: lastAt + 1000 * (i + 1) }] : [],
    ),
    deliveredLog: byMember((_, i) => [{ seq: MESSAGES, at: lastAt + 500 * (i + 1) }]),
    deliveredById: {},
  };
}
