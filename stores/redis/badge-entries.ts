import type { RedisCommand } from './fenced-writes';
import type { RedisKeys } from './keys';

/**
 * A user's unread-senders badge lives in the user's index of conversations
 * (RedisKeys.userConversations), not in a key of its own: most users with a badge have an index
 * anyway, and a key costs ~90 B of Redis memory before it holds anything. A source is a member
 * `\x01<source>` scored BADGE_SCORE: conversations are scored ≤ 0 (conversation-index.ts), so
 * they come first in the index's order, and the badge is the range above 0. The byte 0x01 cannot
 * begin a conversation id (ids with control characters are refused: processors/validation.ts),
 * so a group's id, both a conversation and a badge source, is two members.
 *
 * Older builds kept the badge in a hash of its own (RedisKeys.legacyBadge), never written again:
 * it expires with the hot TTL. Until then readers take the union of both, a removal deletes the
 * source from both, and an add writes the index only (no command more than before for the
 * common case); a source may then be in both, so a badge's size is the index's count when the
 * older hash is empty, else the size of the union (badgeSizeOf).
 */
export const BADGE_SCORE = 1;
const BADGE_MARK = '\u0001';

/** The index member standing for a badge source. */
export function badgeMember(source: string): string {
  return BADGE_MARK + source;
}

/** The badge source an index member stands for (a member of the badge range). */
export function sourceOfBadgeMember(member: string): string {
  return member.slice(BADGE_MARK.length);
}

/** ZRANGEBYSCORE / ZCOUNT bounds of the badge's range, and of the conversations'. */
export const BADGE_RANGE = ['(0', '+inf'] as const;
export const CONVERSATION_RANGE = ['-inf', '0'] as const;

/**
 * Commands of one badge change (their replies: badgeChanged). A removal deletes the source from
 * an older build's hash too while such hashes may exist (`legacy`: LegacyBadgeHashes).
 */
export function badgeChangeCommands(
  keys: RedisKeys,
  userId: string,
  source: string,
  op: 'add' | 'remove',
  ttlSeconds: number,
  legacy: boolean,
): RedisCommand[] {
  const index = keys.userConversations(userId);
  if (op === 'add')
    return [
      ['zadd', index, String(BADGE_SCORE), badgeMember(source)],
      ['expire', index, String(ttlSeconds)],
    ];
  const remove: RedisCommand[] = [['zrem', index, badgeMember(source)]];
  if (legacy) remove.push(['hdel', keys.legacyBadge(userId), source]);
  return remove;
}

/**
 * Whether the replies of a change's badgeChangeCommands say it changed the badge: ZADD's or
 * ZREM's count, and a removal's HDEL of the older hash when it was sent. (An add of a source
 * the older hash still holds counts as added.)
 */
export function badgeChanged(op: 'add' | 'remove', replies: readonly unknown[]): boolean {
  return Number(replies[0]) + (op === 'remove' ? Number(replies[1] ?? 0) : 0) > 0;
}

/**
 * Commands whose replies give the size of the user's badge through badgeSizeOf: the index's
 * count, and the older hash's while such hashes may exist (`legacy`).
 */
export function badgeSizeCommands(
  keys: RedisKeys,
  userId: string,
  legacy: boolean,
): RedisCommand[] {
  const count: RedisCommand = ['zcount', keys.userConversations(userId), ...BADGE_RANGE];
  return legacy ? [count, ['hlen', keys.legacyBadge(userId)]] : [count];
}

/**
 * The badge's size of the `i`-th user from the replies of the users' badgeSizeCommands, in order
 * (sent with the same `legacy`): the index's count while the older hash is empty; null when it
 * is not (a source may be in both: the caller reads the union).
 */
export function badgeSizeOf(
  replies: readonly unknown[],
  i: number,
  legacy: boolean,
): number | null {
  if (!legacy) return Number(replies[i]);
  return Number(replies[2 * i + 1]) === 0 ? Number(replies[2 * i]) : null;
}

/** Commands whose replies, joined by badgeOfReplies, are the user's badge sources. */
export function badgeReadCommands(keys: RedisKeys, userId: string): RedisCommand[] {
  return [
    ['zrangebyscore', keys.userConversations(userId), ...BADGE_RANGE],
    ['hkeys', keys.legacyBadge(userId)],
  ];
}

/** The badge's sources, sorted, from the replies of badgeReadCommands. */
export function badgeOfReplies(members: readonly string[], legacy: readonly string[]): string[] {
  return [...new Set([...members.map(sourceOfBadgeMember), ...legacy])].sort();
}
