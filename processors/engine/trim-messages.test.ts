import { randomBytes } from 'node:crypto';
import type { SentMessage } from '../../stores/redis/conversation-store';
import { loadConfig } from '../../config/config';
import { connectRedis } from '../../stores/redis/connect';
import { RedisKeys } from '../../stores/redis/keys';
import { ReadModel } from '../../stores/redis/read-model';
import { loadConversations } from '../../stores/state/conversation-loader';
import { decodeChunk } from '../../stores/state/member-log';
import { ConversationState } from '../../stores/state/conversation-state';
import { WriteSet } from '../../stores/state/write-set';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { receipt, TTL } from '../../tests/support/engine-fixtures';
import { applyReceipts } from './apply-receipts';
import type { EngineStep } from './engine-step';
import { applyMessagesSent } from './messages-sent';

const msg = (seq: number, senderId = 'ana'): SentMessage => ({
  messageId: `m${seq}`,
  seq,
  senderId,
  kind: 'GROUP',
  sentAt: 1000 + seq,
});

/**
 * The hot message index is bounded: past the cap plus a tenth, the oldest messages go with their
 * delivered-by hashes and the log entries that only they needed — written to a real Redis and
 * read back as the query API and a reloading owner see it.
 */
describe('trimMessages (real Redis)', () => {
  const keys = new RedisKeys(`t${randomBytes(4).toString('hex')}`);
  const redis = connectRedis(loadConfig().redis.main, 'main');
  const step = (): EngineStep => ({
    writes: new WriteSet(),
    ttlSeconds: TTL,
    now: 10_000_000,
    maxIndexedMessages: 10,
  });
  const flush = async (s: EngineStep) => s.writes.flush(await redis);

  afterAll(async () => {
    const r = await redis;
    const found = await scanKeys(r, keys.all());
    await deleteKeys(r, found);
    r.disconnect();
  });

  it.each(['ix', 'msg and msgs'])(
    'keeps the newest messages once a conversation holds a tenth more than the cap (index in %s)',
    async (layout) => {
      const oneKey = layout === 'ix';
      const c = `g1-${oneKey ? 'ix' : 'msgs'}`;
      const prefix = keys.conversation(c);
      const state = new ConversationState(c, prefix);
      if (!oneKey) {
        // A conversation of an older layout (no layout mark): its index stays in msg and msgs.
        state.kind = 'GROUP';
        state.olderKeys = true;
        state.oneKeyIndex = false;
        state.logsInFields = false; // and its logs in log:<user> keys
      }
      for (const member of ['bo', 'cy', 'dan']) state.addMember(member);
      const first = step();
      applyMessagesSent(
        state,
        Array.from({ length: 11 }, (_, i) => msg(i + 1)),
        first,
      );
      state.loadDeliveredBy('m2', []);
      state.loadDeliveredBy('m3', []);
      // bo confirms m2 and m3 by id and reads up to 3; cy reads up to 9, dan to 1.
      applyReceipts(
        state,
        [
          receipt('dan', { type: 'read', seq: 1 }),
          receipt('bo', { type: 'dlv_ids', messageIds: ['m2', 'm3'] }),
          receipt('bo', { type: 'read', seq: 3 }),
          receipt('cy', { type: 'read', seq: 9 }),
        ],
        first,
      );
      await flush(first);
      expect(state.indexedCount).toBe(11); // 11 ≤ 10 + 1: no trim yet

      const second = step();
      applyMessagesSent(state, [msg(12, 'bo')], second);
      await flush(second);
      const r = await redis;
      expect(state.indexedCount).toBe(10);
      if (oneKey) {
        expect(await r.zrange(`${prefix}ix`, '0', '0')).toEqual(['2:m3|ana#rv']);
        expect(await r.zcard(`${prefix}ix`)).toBe(10);
        expect(await r.exists(`${prefix}msg`, `${prefix}msgs`)).toBe(0);
      } else {
        expect(await r.zrange(`${prefix}msgs`, '0', '0')).toEqual(['m3']);
        expect(await r.zcard(`${prefix}msgs`)).toBe(10);
        expect(await r.hlen(`${prefix}msg`)).toBe(10);
        expect(await r.hexists(`${prefix}msg`, 'm2')).toBe(0);
        expect(await r.exists(`${prefix}ix`)).toBe(0);
      }
      expect(await r.hexists(`${prefix}dlv`, '2:m2:bo')).toBe(0);
      expect(await r.hexists(`${prefix}dlv`, '2:m3:bo')).toBe(1);
      // bo's read at 3 still tells when m3 was read; nothing below the oldest message is kept
      // (dan's read at 1 is gone).
      if (oneKey) {
        const logs = await r.hgetall(`${prefix}log`);
        expect(Object.keys(logs).sort()).toEqual(['l:bo', 'l:cy']);
        expect(decodeChunk(logs['l:bo']!)).toEqual([
          { which: 'read', seq: 3, at: expect.any(Number) },
        ]);
        expect(await r.exists(`${prefix}log:bo`)).toBe(0);
      } else {
        expect(await r.zrange(`${prefix}log:bo`, '0', '-1', 'WITHSCORES')).toEqual([
          expect.stringMatching(/^\d+003$/),
          '3',
        ]);
        expect(await r.exists(`${prefix}log:dan`)).toBe(0);
      }
      // The unread count is what the index holds above the watermark, capped by the index.
      const read = new ReadModel(r, keys);
      expect((await read.unreadMany([c], 'cy'))[0]!.unread).toBe(3);
      expect((await read.unreadMany([c], 'dan'))[0]!.unread).toBe(10);
      // As an older build wrote it: a kind, no layout mark.
      if (!oneKey) await r.hset(`${prefix}meta`, 'kind', 'GROUP');
      // A reloading owner sees the trimmed state.
      const loaded = (await loadConversations(r, keys, [c])).get(c)!;
      expect([...loaded.indexed()].map(([id]) => id)).toEqual(
        Array.from({ length: 10 }, (_, i) => `m${i + 3}`),
      );
      expect(loaded.message('m12')).toEqual({ seq: 12, sender: 'bo', sentAt: '1012' });
      expect(loaded.oneKeyIndex).toBe(oneKey);
    },
  );
});
