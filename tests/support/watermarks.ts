import type { RedisClient } from '../../stores/redis/connect';
import { MetaField, type RedisKeys } from '../../stores/redis/keys';

/**
 * One conversation's read and delivered watermarks as Redis holds them (meta's 'r:<user>' and
 * 'd:<user>' fields), by user.
 */
export async function conversationWatermarks(
  redis: RedisClient,
  keys: RedisKeys,
  conversationId: string,
): Promise<{ read: Record<string, string>; delivered: Record<string, string> }> {
  const meta = await redis.hgetall(keys.conversationKey(conversationId, 'meta'));
  const read: Record<string, string> = {};
  const delivered: Record<string, string> = {};
  const readField = MetaField.read('');
  const dlvdField = MetaField.dlvd('');
  for (const [field, value] of Object.entries(meta)) {
    if (field.startsWith(readField)) read[field.slice(readField.length)] = value;
    else if (field.startsWith(dlvdField)) delivered[field.slice(dlvdField.length)] = value;
  }
  return { read, delivered };
}
