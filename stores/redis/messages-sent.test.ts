import { randomBytes } from 'node:crypto';
import type { RedisClient } from './connect';
import { loadConfig } from '../../config/config';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { connectRedis } from './connect';
import { ConversationStore, type MessageSentResult, type SentMessage } from './conversation-store';
import { RedisKeys } from './keys';
import type { Queued } from './pipeline';
import { conversationWatermarks } from '../../tests/support/watermarks';
import { conversationState, runOne } from '../../tests/support/redis-state';

/**
 * messages-sent-1.lua against a real Redis: one call for a run of messages must leave the same
 * state and return the same per-message results as one call per message.
 */
describe('messagesSent (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const keys = new RedisKeys(prefix);
  let redis: RedisClient;
  let store: ConversationStore;

  const run = <T>(call: Queued<T>): Promise<T> => runOne(redis, call);
  /**
   * Set-ordered lists (SMEMBERS order) sorted, so results compare by content; windowOpen left
   * out (it says whether a window is open after the whole call, so it differs by call size).
   */
  const sorted = (results: MessageSentResult[]) =>
    results.map(({ windowOpen: _after, ...r }) => ({
      ...r,
      behind: [...r.behind].sort(),
      members: [...r.members].sort(),
    }));
  const state = (conversationId: string) => conversationState(redis, keys, conversationId);
  const watermarks = (conversationId: string) =>
    conversationWatermarks(redis, keys, conversationId);
  /** The messages in one call on `batched`, and one call each on `single`. */
  async function both(batched: string, single: string, messages: SentMessage[]) {
    const together = await run(store.messagesSent(batched, messages));
    const apart: MessageSentResult[] = [];
    for (const m of messages) apart.push(...(await run(store.messagesSent(single, [m]))));
    return { together: sorted(together), apart: sorted(apart) };
  }
  const msg = (seq: number, senderId: string, kind: 'DIRECT' | 'GROUP' = 'GROUP'): SentMessage => ({
    messageId: `m${seq}`,
    seq,
    senderId,
    kind,
    sentAt: 1_000 + seq,
  });

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
    store = new ConversationStore(redis, keys, 600);
  });
  afterAll(async () => {
    const found = await scanKeys(redis, keys.all());
    await deleteKeys(redis, found);
    redis.disconnect();
  });

  it('applies a run of two senders as one call per message would, and a replay changes nothing', async () => {
    for (const c of ['g-batched', 'g-single'])
      await run(store.membersChanged(c, [{ op: 'add', userId: 'reader', kind: 'GROUP' }]));
    const burst = [msg(1, 'a'), msg(2, 'a'), msg(3, 'b'), msg(4, 'a'), msg(5, 'b')];

    const { together, apart } = await both('g-batched', 'g-single', burst);
    expect(together).toEqual(apart);
    // Each message sees the read watermarks as the earlier messages left them: a sender has
    // read its own earlier messages, and b is a member only from its first message on.
    expect(together.map((r) => [r.lastSeq, r.senderCaughtUp, r.behind])).toEqual([
      [1, false, ['reader']], // a had nothing unread: nothing leaves a's badge
      [2, false, ['reader']],
      [3, true, ['a', 'reader']], // b had not read a's messages: sending reads them
      [4, true, ['b', 'reader']],
      [5, true, ['a', 'reader']],
    ]);
    const after = await state('g-batched');
    expect(after).toEqual(await state('g-single'));
    expect((await watermarks('g-batched')).read).toEqual({ reader: '0', a: '4', b: '5' });
    expect(after.msgs).toEqual(['m1', '1', 'm2', '2', 'm3', '3', 'm4', '4', 'm5', '5']);
    expect(after.meta).toMatchObject({ kind: 'GROUP', last_seq: '5', last_at: '1005' });
    expect(after.meta).not.toHaveProperty('last_msg');

    // Redelivery of the same records: the same state, and the same results as a redelivery of
    // one call per message.
    const replay = await both('g-batched', 'g-single', burst);
    expect(replay.together).toEqual(replay.apart);
    expect(await state('g-batched')).toEqual(after);
    expect(await state('g-single')).toEqual(after);
  });

  it('never moves last_seq back for a lower seq arriving later in the run', async () => {
    const late = [msg(7, 'a'), msg(6, 'b'), msg(8, 'b'), msg(2, 'a')];
    const { together, apart } = await both('o-batched', 'o-single', late);
    expect(together).toEqual(apart);
    expect(together.map((r) => [r.lastSeq, r.senderCaughtUp])).toEqual([
      [7, false], // nothing unread before
      [7, false], // b has read up to 6 of 7
      [8, true],
      [8, false], // a stays at 7 of 8: seq 2 moves nothing back
    ]);
    const after = await state('o-batched');
    // The group window is the one difference: in one call m7's fold already sees the late m6
    // (b's, below a's 7: read by a) and tells b; one call each indexes m6 only after m7 was
    // applied. Both are true; one call tells more.
    const { win: batchedWin, ...rest } = after;
    const { win: singleWin, ...singleRest } = await state('o-single');
    expect(rest).toEqual(singleRest);
    expect(batchedWin).toMatchObject({ 's:a': '1', 's:b': '1', 'r:8': '6' });
    expect(singleWin).toMatchObject({ 's:a': '1', 'r:8': '6' });
    expect(after.meta).toMatchObject({ last_seq: '8', last_at: '1008' });
    expect(await watermarks('o-batched')).toEqual({
      read: { a: '7', b: '8' },
      delivered: { a: '7', b: '8' },
    });

    // A lower seq in a later call does not move it back either.
    const [older] = await run(store.messagesSent('o-batched', [msg(3, 'b')]));
    expect(older!.lastSeq).toBe(8);
    expect((await state('o-batched')).meta).toMatchObject({ last_seq: '8' });
  });

  it('lists a direct chat peer only once it has sent or joined', async () => {
    const chat = [msg(1, 'A', 'DIRECT'), msg(2, 'B', 'DIRECT'), msg(3, 'A', 'DIRECT')];
    const { together, apart } = await both('d-batched', 'd-single', chat);
    expect(together).toEqual(apart);
    expect(together.map((r) => [r.members, r.behind])).toEqual([
      [['A'], []],
      [['A', 'B'], ['A']],
      [['A', 'B'], ['B']],
    ]);
    expect(await state('d-batched')).toEqual(await state('d-single'));
  });

  it('refuses an empty or oversized run', () => {
    expect(() => store.messagesSent('x', [])).toThrow(RangeError);
    expect(() =>
      store.messagesSent(
        'x',
        Array.from({ length: 1001 }, (_, i) => msg(i + 1, 'a')),
      ),
    ).toThrow(RangeError);
  });
});
