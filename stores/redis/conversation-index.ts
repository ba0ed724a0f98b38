/**
 * A user's conversations by latest message (RedisKeys.userConversations): the score is minus
 * the time of the conversation's latest message, so an ascending range is newest first and
 * ties come by conversation id, ascending — the order the query API pages in.
 */
export function indexScore(lastAt: number): number {
  return lastAt === 0 ? 0 : -lastAt;
}

/** The latest-message time an index score stands for (epoch ms; 0: no message yet). */
export function lastAtOfScore(score: number | string): number {
  const n = -Number(score);
  return n === 0 ? 0 : n; // no -0 in answers
}
