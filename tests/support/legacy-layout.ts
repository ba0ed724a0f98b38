import type { RedisClient } from '../../stores/redis/connect';
import type { LegacySuffix, RedisKeys } from '../../stores/redis/keys';

/**
 * A conversation as a build before members, watermarks and marks moved into meta left it in
 * Redis: a 'members' set, 'read' / 'dlvd' hashes and a 'notified' hash of their own
 * (RedisKeys.legacyKey), meta holding only kind and the latest message. Messages get seqs 1, 2,
 * … in order.
 */
export interface LegacyConversation {
  kind: 'DIRECT' | 'GROUP';
  members: string[];
  /** Watermarks by user (former members keep theirs). */
  read: Record<string, number>;
  dlvd: Record<string, number>;
  /** [message id, sender, sent_at], seq = position + 1. */
  messages: Array<[string, string, number]>;
  /** Log entries by user: [watermark, at]. */
  readLog?: Record<string, Array<[number, number]>>;
  dlvLog?: Record<string, Array<[number, number]>>;
  /** A direct chat's 'told up to' marks: 'r:<reader>' / 'd:<reader>' → "seq|version|message_id". */
  notified?: Record<string, string>;
}

/** Writes `c` in the legacy layout (every key expiring in `ttlSeconds`). */
export async function writeLegacyConversation(
  redis: RedisClient,
  keys: RedisKeys,
  conversationId: string,
  c: LegacyConversation,
  ttlSeconds = 3600,
): Promise<void> {
  const p = keys.conversation(conversationId);
  const legacy = (suffix: LegacySuffix) => keys.legacyKey(conversationId, suffix);
  const last = c.messages[c.messages.length - 1];
  const tx = redis.multi();
  const written = new Set([`${p}meta`, legacy('members'), legacy('read'), legacy('dlvd')]);
  tx.hset(`${p}meta`, 'kind', c.kind);
  if (last)
    tx.hset(`${p}meta`, 'last_seq', c.messages.length, 'last_msg', last[0], 'last_at', last[2]);
  tx.sadd(legacy('members'), ...c.members);
  tx.hset(legacy('read'), c.read);
  tx.hset(legacy('dlvd'), c.dlvd);
  if (c.notified) {
    tx.hset(legacy('notified'), c.notified);
    written.add(legacy('notified'));
  }
  c.messages.forEach(([id, sender, at], i) => {
    tx.hset(`${p}msg`, id, `${i + 1}|${sender}|${at}`);
    tx.zadd(`${p}msgs`, i + 1, id);
    written.add(`${p}msg`).add(`${p}msgs`);
  });
  for (const [log, entries] of [
    ['readlog', c.readLog ?? {}],
    ['dlvlog', c.dlvLog ?? {}],
  ] as const)
    for (const [user, list] of Object.entries(entries))
      for (const [seq, at] of list) {
        tx.zadd(`${p}${log}:${user}`, seq, `${seq}|${at}`);
        written.add(`${p}${log}:${user}`);
      }
  for (const key of written) tx.expire(key, ttlSeconds);
  await tx.exec();
}
