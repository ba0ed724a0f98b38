/**
 * What a receipt-details answer costs the main Redis where a message is found in the one-key
 * index (`ix`) against the older layout (`msg` hash, `msgs` set): the same group of 20 members
 * and `messages` messages restored twice, the second copy rewritten into the older layout, then
 * the newest, middle and oldest message asked `rounds` times each, either with nothing held
 * (`fresh`: a first lookup, found by a search from the newest message back) or with an answer
 * held whose content changed since (`held`: its seq is the hint). Prints the script's Redis time
 * per call from INFO commandstats (reset before each case: run it alone on the stack's Redis) and
 * the round trip, then deletes its keys.
 *
 *   npx tsx scripts/bench/receipt-lookup-cost.ts [messages=2000] [fresh|held] [rounds=2000]
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../config/config';
import { connectRedis, type RedisClient } from '../../stores/redis/connect';
import { HotStateRestorer, type RestoredConversation } from '../../stores/redis/hot-state-restorer';
import { LOG_LAYOUT, MetaField, RedisKeys } from '../../stores/redis/keys';
import { RedisReceiptDetails } from '../../stores/redis/receipt-details';
import { formatMessage, parseIndexEntry } from '../../stores/state/stored-values';
import { scanAll } from './redis-probe';

const MEMBERS = Array.from({ length: 20 }, (_, i) => `user-${i}`);

function group(id: string, messages: number): RestoredConversation {
  return {
    conversationId: id,
    kind: 'GROUP',
    deleted: [],
    marked: {},
    last: { seq: messages, messageId: `${id}-m${messages}`, at: 1_000_000 + messages },
    members: MEMBERS,
    former: [],
    read: Object.fromEntries(MEMBERS.map((u, i) => [u, messages - i])),
    delivered: Object.fromEntries(MEMBERS.map((u) => [u, messages])),
    messages: Array.from({ length: messages }, (_, i) => ({
      seq: i + 1,
      messageId: `${id}-m${i + 1}`,
      senderId: MEMBERS[i % MEMBERS.length]!,
      sentAt: 1_000_000 + i,
    })),
    readLog: {},
    deliveredLog: {},
    deliveredById: {},
  };
}

/** Rewrites a conversation's `ix` into the older layout's `msg` and `msgs` (meta 'lv' = '2'). */
async function toOlderIndex(redis: RedisClient, prefix: string): Promise<void> {
  const flat = await redis.zrange(`${prefix}ix`, '0', '-1', 'WITHSCORES');
  const tx = redis.multi().del(`${prefix}ix`).hset(`${prefix}meta`, MetaField.layout, LOG_LAYOUT);
  for (let i = 0; i < flat.length; i += 2) {
    const m = parseIndexEntry(flat[i]!)!;
    const seq = Number(flat[i + 1]);
    tx.hset(`${prefix}msg`, m.messageId, formatMessage(seq, m.sender, m.sentAt));
    tx.zadd(`${prefix}msgs`, seq, m.messageId);
  }
  await tx.exec();
}

async function main(): Promise<void> {
  const messages = Number(process.argv[2] ?? 2000);
  const held = process.argv[3] === 'held';
  const rounds = Number(process.argv[4] ?? 2000);
  const config = loadConfig();
  const redis = await connectRedis(config.redis.main, 'main');
  const keys = new RedisKeys(`lookupcost${randomBytes(3).toString('hex')}`);
  try {
    await new HotStateRestorer(redis, redis, keys, 3600).restoreConversations([
      group('one', messages),
      group('older', messages),
    ]);
    await toOlderIndex(redis, keys.conversation('older'));
    console.log(
      `receipt details of a group of ${MEMBERS.length}, ${messages} messages indexed, ${held ? 'an answer held, its content changed since' : 'nothing held'}, ${rounds} lookups a case`,
    );
    for (const [label, c] of [
      ['ix', 'one'],
      ['msg/msgs', 'older'],
    ] as const) {
      for (const which of [messages, Math.ceil(messages / 2), 1]) {
        const shared = new RedisReceiptDetails(redis, keys);
        const query = { conversationId: c, messageId: `${c}-m${which}`, viewer: 'user-0' };
        if (held) await shared.lookup(query);
        await redis.config('RESETSTAT');
        const started = process.hrtime.bigint();
        for (let i = 0; i < rounds; i++) {
          const source = held ? shared : new RedisReceiptDetails(redis, keys);
          // A new revision: the held answer no longer holds, its seq is still the hint.
          if (held) await redis.hset(`${keys.conversation(c)}meta`, MetaField.revision, `r${i}`);
          const found = await source.lookup(query);
          if (found.status !== 'found')
            throw new Error(`${label} ${query.messageId}: ${found.status}`);
        }
        const roundTrip = Number(process.hrtime.bigint() - started) / 1e3 / rounds;
        const stats = (await redis.info('commandstats'))
          .split('\n')
          .find((l) => l.startsWith('cmdstat_evalsha:'));
        const usec = /usec_per_call=([\d.]+)/.exec(stats ?? '')?.[1] ?? '?';
        console.log(
          `  ${label.padEnd(8)} message ${String(which).padStart(5)} of ${messages}: Redis ${usec} us a call, round trip ${roundTrip.toFixed(0)} us`,
        );
      }
    }
  } finally {
    const left = await scanAll(redis, `${keys.all()}`);
    if (left.length > 0) await redis.del(...left);
    redis.disconnect();
  }
}

void main();
