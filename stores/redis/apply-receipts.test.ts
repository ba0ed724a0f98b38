import { randomBytes } from 'node:crypto';
import type { RedisClient } from './connect';
import { loadConfig } from '../../config/config';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { connectRedis } from './connect';
import { ConversationStore, type ReceiptInput, type ReceiptResult } from './conversation-store';
import { RedisKeys } from './keys';
import type { Queued } from './pipeline';
import { conversationState, runOne } from '../../tests/support/redis-state';

/**
 * apply-receipts takes a run of one conversation's receipts in one call; the result must be
 * exactly that of applying them one call each: same replies, same state.
 */
describe('apply-receipts: a run in one call equals one call per receipt (real Redis)', () => {
  const run = randomBytes(4).toString('hex');
  const alone = `t${run}a`;
  const together = `t${run}b`;
  let redis: RedisClient;

  const one = <T>(call: Queued<T>): Promise<T> => runOne(redis, call);
  const store = (prefix: string) => new ConversationStore(redis, new RedisKeys(prefix), 3600);
  const dump = (prefix: string, id: string) => conversationState(redis, new RedisKeys(prefix), id);

  async function setUp(prefix: string, id: string, kind: 'DIRECT' | 'GROUP', members: string[]) {
    const s = store(prefix);
    await one(
      s.membersChanged(
        id,
        members.map((userId) => ({ op: 'add' as const, userId, kind })),
      ),
    );
    const senders =
      kind === 'DIRECT'
        ? [members[0]!, members[0]!, members[1]!, members[0]!]
        : members.slice(0, 4);
    await one(
      s.messagesSent(
        id,
        senders.map((senderId, i) => ({
          messageId: `m${i + 1}`,
          seq: i + 1,
          senderId,
          kind,
          sentAt: 1001 + i,
        })),
      ),
    );
  }

  const r = (userId: string, command: ReceiptInput['command'], version: number): ReceiptInput => ({
    userId,
    at: 5000 + version,
    shareRead: userId !== 'private',
    version,
    sourceAt: 9000 + version,
    command,
  });

  async function compare(
    id: string,
    kind: 'DIRECT' | 'GROUP',
    members: string[],
    receipts: ReceiptInput[],
  ) {
    await setUp(alone, id, kind, members);
    await setUp(together, id, kind, members);
    const separately: ReceiptResult[] = [];
    for (const receipt of receipts)
      separately.push(...(await one(store(alone).applyReceipts(id, [receipt]))));
    const inOneCall = await one(store(together).applyReceipts(id, receipts));
    // The one difference: `windowOpen` says whether the group window is open after the run.
    const openAfter = separately.filter((x) => x.applied).at(-1)?.windowOpen;
    const withWindow = separately.map((x) => (x.applied ? { ...x, windowOpen: openAfter } : x));
    expect(inOneCall).toEqual(withWindow);
    expect(await dump(together, id)).toEqual(await dump(alone, id));
    return inOneCall;
  }

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
  });
  afterAll(async () => {
    for (const prefix of [alone, together]) {
      const keys = await scanKeys(redis, `${prefix}:*`);
      await deleteKeys(redis, keys);
    }
    redis.disconnect();
  });

  it('group: deliveries, reads, scrolls, duplicates, backwards reads and held receipts', async () => {
    const members = ['ana', 'bo', 'cy', 'di', 'private'];
    const results = await compare('g1', 'GROUP', members, [
      r('bo', { type: 'dlv_seq', seq: 2 }, 1),
      r('cy', { type: 'dlv_ids', messageIds: ['m1', 'm3'] }, 2),
      r('bo', { type: 'read', seq: 1 }, 3),
      r('bo', { type: 'read', seq: 3 }, 4), // scrolls on
      r('bo', { type: 'read', seq: 2 }, 5), // backwards: changes nothing
      r('cy', { type: 'dlv_ids', messageIds: ['m1'] }, 6), // duplicate
      r('mallory', { type: 'read', seq: 1 }, 7), // not a member
      r('di', { type: 'read', seq: 9 }, 8), // beyond the last message
      r('di', { type: 'dlv_ids', messageIds: ['m2', 'nope'] }, 9), // unknown id
      r('private', { type: 'read_id', messageId: 'm4' }, 10),
      r('ana', { type: 'dlv_seq', seq: 4 }, 11),
    ]);
    // bo sent m2, so bo has read and received up to it already.
    expect(results.map((x) => (x.applied ? x.changed : x.reason))).toEqual([
      false,
      true,
      false,
      true,
      false,
      false,
      'NOT_A_MEMBER',
      'SEQ_NOT_REACHED',
      'UNKNOWN_MESSAGE',
      true,
      true,
    ]);
  });

  it('direct chat: the peer hears of its newest covered message once', async () => {
    const results = await compare(
      'd1',
      'DIRECT',
      ['ana', 'bo'],
      [
        r('bo', { type: 'dlv_ids', messageIds: ['m1'] }, 1),
        r('bo', { type: 'dlv_seq', seq: 4 }, 2),
        r('bo', { type: 'read', seq: 2 }, 3),
        r('bo', { type: 'read', seq: 4 }, 4),
        r('ana', { type: 'read', seq: 3 }, 5),
      ],
    );
    expect(results.map((x) => (x.applied ? (x.push?.messageId ?? null) : x.reason))).toEqual([
      'm1',
      'm4',
      'm2',
      'm4',
      'm3',
    ]);
  });

  it('direct chat: a second read in the same run does not repeat the update', async () => {
    await setUp(together, 'd2', 'DIRECT', ['ana', 'bo']);
    const results = await one(
      store(together).applyReceipts('d2', [
        r('bo', { type: 'read', seq: 4 }, 1),
        r('bo', { type: 'read', seq: 2 }, 2), // backwards: the watermark stays at 4
      ]),
    );
    expect(results.map((x) => (x.applied ? (x.push?.messageId ?? null) : x.reason))).toEqual([
      'm4',
      null,
    ]);
  });

  it('direct chat: a receipt at or below what was told tells nothing, the one that told included (a redo)', async () => {
    await setUp(together, 'd3', 'DIRECT', ['ana', 'bo']);
    const pushes = async (receipts: ReceiptInput[]) =>
      (await one(store(together).applyReceipts('d3', receipts))).map((x) =>
        x.applied ? (x.push ? `${x.push.messageId} ${x.push.status}` : null) : x.reason,
      );
    expect(await pushes([r('bo', { type: 'dlv_seq', seq: 2 }, 10)])).toEqual(['m2 DELIVERED']);
    expect(await pushes([r('bo', { type: 'read', seq: 4 }, 11)])).toEqual(['m4 READ']);
    // A redo after the state was written (so after its updates were produced): the same records
    // again tell nothing — a DELIVERED told again with a new version would follow the READ.
    expect(
      await pushes([
        r('bo', { type: 'dlv_seq', seq: 2 }, 10),
        r('bo', { type: 'read', seq: 4 }, 11),
      ]),
    ).toEqual([null, null]);
    // New receipts at or below what was told, in a later call (a later step): nothing.
    expect(
      await pushes([
        r('bo', { type: 'read', seq: 4 }, 12),
        r('bo', { type: 'dlv_seq', seq: 4 }, 13),
        r('bo', { type: 'read', seq: 3 }, 14),
      ]),
    ).toEqual([null, null, null]);
  });

  it('a run larger than unpack() allows (900 readers, 9,000 window ends) applies in one call', async () => {
    const s = store(together);
    const id = 'big';
    const readers = Array.from({ length: 900 }, (_, i) => `r${i}`);
    await one(
      s.membersChanged(
        id,
        ['ana', ...readers].map((userId) => ({
          op: 'add' as const,
          userId,
          kind: 'GROUP' as const,
        })),
      ),
    );
    for (let from = 1; from <= 9000; from += 1000)
      await one(
        s.messagesSent(
          id,
          Array.from({ length: 1000 }, (_, k) => ({
            messageId: `m${from + k}`,
            seq: from + k,
            senderId: 'ana',
            kind: 'GROUP' as const,
            sentAt: from + k,
          })),
        ),
      );
    // Each reader confirms ten messages of its own: 9,000 distinct ranges in the window.
    const results = await one(
      s.applyReceipts(
        id,
        readers.map((userId, i) =>
          r(
            userId,
            {
              type: 'dlv_ids',
              messageIds: Array.from({ length: 10 }, (_, k) => `m${i * 10 + k + 1}`),
            },
            i,
          ),
        ),
      ),
    );
    expect(results).toHaveLength(900);
    expect(results.every((x) => x.applied && x.changed && x.newlyDeliveredIds.length === 10)).toBe(
      true,
    );
    const p = new RedisKeys(together).conversation(id);
    expect(await redis.hlen(`${p}win`)).toBeGreaterThanOrEqual(9000);
  });
});
