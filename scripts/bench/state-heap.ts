/**
 * The pipeline's conversation states in memory: real heap against their size estimate (what
 * bounds the state cache, TICKS_STATE_CACHE_BYTES). Loads the conversations a bench run left in
 * Redis (`npm run bench -- --keep …`; its key prefix is `bench<run id>`) as the pipeline does,
 * and prints the heap each state took (GC forced before and after) beside the estimate.
 *
 *   node --expose-gc --import tsx scripts/bench/state-heap.ts <key prefix> [most states] [id part]
 *
 * `id part` keeps only conversation ids holding it (`-dm-` direct chats, `-g-` groups).
 */
import { loadConfig } from '../../config/config';
import { connectRedis } from '../../stores/redis/connect';
import { RedisKeys } from '../../stores/redis/keys';
import { loadConversations } from '../../stores/state/conversation-loader';
import type { ConversationState } from '../../stores/state/conversation-state';
import { scanAll } from './redis-probe';

async function main(): Promise<void> {
  const [prefix, most = '20000', part = ''] = process.argv.slice(2);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!prefix || !gc) {
    console.error(
      'usage: node --expose-gc --import tsx scripts/bench/state-heap.ts <key prefix> [most states] [id part]',
    );
    process.exit(2);
  }
  const redis = await connectRedis(loadConfig().redis.main, 'main');
  const ids = (await scanAll(redis, `${prefix}:{c:*}:meta`))
    .map((key) => /\{c:(.*)\}:meta$/.exec(key)?.[1] ?? '')
    .filter((id) => id !== '' && id.includes(part))
    .slice(0, Number(most));
  const keys = new RedisKeys(prefix);
  const held: ConversationState[] = [];
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < ids.length; i += 500) {
    const states = await loadConversations(redis, keys, ids.slice(i, i + 500));
    held.push(...states.values());
  }
  gc();
  const grew = process.memoryUsage().heapUsed - before;
  const estimated = held.reduce((n, s) => n + s.sizeBytes, 0);
  const messages = held.reduce((n, s) => n + s.indexedCount, 0);
  const members = held.reduce((n, s) => n + s.members.size, 0);
  const per = (n: number) => (held.length === 0 ? 0 : n / held.length);
  console.log(
    `${held.length} states (${per(members).toFixed(1)} members, ${per(messages).toFixed(1)} messages each): ` +
      `heap ${Math.round(per(grew))} B a state, estimated ${Math.round(per(estimated))} B`,
  );
  redis.disconnect();
}

void main();
