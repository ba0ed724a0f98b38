import { randomBytes } from 'node:crypto';
import type { RedisClient } from './connect';
import { loadConfig } from '../../config/config';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { connectRedis } from './connect';
import { ConversationStore, type MemberChange } from './conversation-store';
import { RedisKeys } from './keys';
import { ReadModel } from './read-model';
import type { Queued } from './pipeline';
import { conversationState, runOne } from '../../tests/support/redis-state';
import { conversationWatermarks } from '../../tests/support/watermarks';

/**
 * members-changed-1.lua against a real Redis: a run of member events in one call leaves the
 * state one call per event leaves, and every key it creates expires.
 */
describe('membersChanged (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const keys = new RedisKeys(prefix);
  let redis: RedisClient;
  let store: ConversationStore;

  const run = <T>(call: Queued<T>): Promise<T> => runOne(redis, call);
  const state = (conversationId: string) => conversationState(redis, keys, conversationId);
  const add = (userId: string, kind: 'DIRECT' | 'GROUP' = 'GROUP'): MemberChange => ({
    op: 'add',
    userId,
    kind,
  });
  const remove = (userId: string): MemberChange => ({ op: 'remove', userId, kind: 'GROUP' });

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
    store = new ConversationStore(redis, keys, 600);
  });
  afterAll(async () => {
    const found = await scanKeys(redis, `${prefix}:*`);
    await deleteKeys(redis, found);
    redis.disconnect();
  });

  it('a run in one call equals one call per change, before and after messages', async () => {
    const first = [add('a'), add('b'), add('c'), remove('b'), add('b'), add('a')];
    const later = [add('d'), remove('a'), add('e'), remove('e')];
    for (const [c, split] of [
      ['together', false],
      ['apart', true],
    ] as const) {
      const apply = async (changes: MemberChange[]) => {
        const results = [];
        for (const part of split ? changes.map((x) => [x]) : [changes])
          results.push(await run(store.membersChanged(c, part)));
        return results.at(-1);
      };
      expect(await apply(first)).toEqual({ kind: 'GROUP', hasHeld: false, lastSeq: 0 });
      await run(
        store.messagesSent(c, [
          { messageId: 'm1', seq: 1, senderId: 'a', kind: 'GROUP', sentAt: 1 },
          { messageId: 'm2', seq: 2, senderId: 'c', kind: 'GROUP', sentAt: 2 },
        ]),
      );
      expect(await apply(later)).toEqual({ kind: 'GROUP', hasHeld: false, lastSeq: 2 });
    }
    const together = await state('together');
    expect(together).toEqual(await state('apart'));
    // Joiners start with what was sent before they joined read; a leaver keeps its watermark.
    const model = new ReadModel(redis, keys);
    expect(await model.members('together')).toEqual(['b', 'c', 'd']);
    expect((await conversationWatermarks(redis, keys, 'together')).read).toEqual({
      a: '1',
      b: '0',
      c: '2',
      d: '2',
      e: '2',
    });
  });

  it('the first join gives an unknown conversation its kind and its keys an expiry', async () => {
    expect(
      await run(store.membersChanged('direct', [add('x', 'DIRECT'), add('y', 'DIRECT')])),
    ).toEqual({
      kind: 'DIRECT',
      hasHeld: false,
      lastSeq: 0,
    });
    const p = keys.conversation('direct');
    expect(await redis.ttl(`${p}meta`)).toBeGreaterThan(0);
    // Members and watermarks are fields of meta, not keys of their own.
    for (const suffix of ['members', 'read', 'dlvd'])
      expect(await redis.exists(`${p}${suffix}`)).toBe(0);
  });

  it('members emptied and added again in one run still expire', async () => {
    await run(store.membersChanged('regroup', [add('x')]));
    const p = keys.conversation('regroup');
    await run(store.membersChanged('regroup', [remove('x'), add('y')]));
    expect(await new ReadModel(redis, keys).members('regroup')).toEqual(['y']);
    expect(await redis.ttl(`${p}meta`)).toBeGreaterThan(0);
  });
});
