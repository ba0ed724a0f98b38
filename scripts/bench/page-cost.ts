/**
 * What one held unread page costs the main Redis (issue 15: the pages of 100 and 5,000
 * conversations are bound by it). Seeds a user in `conversations` conversations as the serving
 * phase does, asks the page once, then asks it `pages` times from `concurrency` callers (every
 * row held: the common case) and prints the script's Redis time per page and its commands' from
 * INFO commandstats (reset first: run it alone on the stack's Redis), then deletes its keys.
 *
 *   npx tsx scripts/bench/page-cost.ts [conversations=100] [pages=20000] [concurrency=20]
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../config/config';
import { connectRedis } from '../../stores/redis/connect';
import { HotStateRestorer } from '../../stores/redis/hot-state-restorer';
import { RedisKeys } from '../../stores/redis/keys';
import { ReadModel } from '../../stores/redis/read-model';
import { scanAll } from './redis-probe';
import { seedServingState } from './serving-seed';

const LIMIT = 50;

async function main(): Promise<void> {
  const [conversations = 100, pages = 20_000, concurrency = 20] = process.argv.slice(2).map(Number);
  const config = loadConfig();
  const prefix = `pagecost${randomBytes(3).toString('hex')}`;
  const main = await connectRedis(config.redis.main, 'main');
  const aux = await connectRedis(config.redis.aux, 'auxiliary');
  const keys = new RedisKeys(prefix);
  try {
    const restorer = new HotStateRestorer(main, aux, keys, 3600);
    const seeded = await seedServingState(restorer, 'pc', [conversations], 2);
    const user = seeded.unreadUsers[0]!.userId;
    const model = new ReadModel(main, keys);
    await model.unreadPage(user, { limit: LIMIT });
    await main.config('RESETSTAT');
    const started = process.hrtime.bigint();
    let left = pages;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (left-- > 0) await model.unreadPage(user, { limit: LIMIT });
      }),
    );
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(
      `${pages} held pages of ${LIMIT} (user in ${conversations} conversations) in ${ms.toFixed(0)} ms: ${Math.round((pages / ms) * 1000)} pages/s from one caller process`,
    );
    for (const line of (await main.info('commandstats')).split('\n')) {
      const m = /^cmdstat_(\w+):calls=(\d+),usec=(\d+)/.exec(line);
      if (!m) continue;
      const [, command, calls, usec] = m;
      if (command === 'config' || command === 'info') continue;
      console.log(
        `  ${command!.padEnd(8)} ${(Number(calls) / pages).toFixed(1).padStart(5)} calls and ${(Number(usec) / pages).toFixed(1).padStart(6)} µs of Redis a page`,
      );
    }
  } finally {
    const left = await scanAll(main, `${prefix}:*`);
    for (let i = 0; i < left.length; i += 1000) await main.del(...left.slice(i, i + 1000));
    main.disconnect();
    aux.disconnect();
  }
}

void main();
