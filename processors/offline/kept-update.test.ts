import {
  TypeName,
  type GroupMessageCounts,
  type OfflineUpdate,
  type ReceiptUpdate,
} from '../../schemas/types';
import type { KeptUpdate } from '../../stores/redis/offline-store';
import { fromKept, keptMessages, keptOfDeleted, offlineBatches, toKept } from './kept-update';

const update = (
  version: number,
  payload: ReceiptUpdate['payload'],
  emittedAt = version,
): ReceiptUpdate => ({
  update_id: `u${version}`,
  user_id: 'ana',
  version,
  source_event_at: emittedAt - 1,
  emitted_at: emittedAt,
  payload,
});
const status = (message: string, s: 'DELIVERED' | 'READ'): ReceiptUpdate['payload'] => ({
  [TypeName.MessageStatusUpdate]: {
    conversation_id: 'c',
    message_id: message,
    seq: 1,
    status: s,
    by: 'bo',
  },
});

/** What the offline store hands back for an update: "rank|version|json" per kept field. */
const stored = (u: ReceiptUpdate): string[] =>
  toKept(u)!.map((k) => `${k.rank}|${k.version}|${k.value}`);

/** What the offline store keeps of these updates: per field the highest (rank, version). */
function keptValues(...updates: ReceiptUpdate[]): string[] {
  const byField = new Map<string, KeptUpdate>();
  for (const k of updates.flatMap((u) => toKept(u)!)) {
    const old = byField.get(k.field);
    if (!old || k.rank > old.rank || (k.rank === old.rank && k.version > old.version))
      byField.set(k.field, k);
  }
  return [...byField.values()].map((k) => `${k.rank}|${k.version}|${k.value}`);
}

const counts = (id: string, seq: number, read: number): GroupMessageCounts => ({
  message_id: id,
  seq,
  status: read > 0 ? 'READ' : 'DELIVERED',
  read_count: read,
  delivered_count: 3,
  total: 3,
});
const senderSummary = (
  conversation: string,
  windowEnd: number,
  ...messages: GroupMessageCounts[]
): ReceiptUpdate['payload'] => ({
  [TypeName.GroupSenderSummary]: {
    conversation_id: conversation,
    messages,
    window_start: windowEnd - 2000,
    window_end: windowEnd,
  },
});
const updatesOf = (batch: ReceiptUpdate): OfflineUpdate[] =>
  (batch.payload as { [TypeName.OfflineBatch]: { updates: OfflineUpdate[] } })[
    TypeName.OfflineBatch
  ].updates;

describe('offline coalescing keys', () => {
  it('one field per message; READ ranks above DELIVERED; unread syncs per conversation', () => {
    expect(toKept(update(1, status('m1', 'DELIVERED')))).toMatchObject([
      { field: 's:c:m1', rank: 1 },
    ]);
    expect(toKept(update(2, status('m1', 'READ')))).toMatchObject([{ field: 's:c:m1', rank: 2 }]);
    const sync = toKept(
      update(3, {
        [TypeName.UnreadSync]: {
          conversation_id: 'c',
          unread_count: 0,
          badge_count: 0,
          read_up_to_seq: 4,
          origin_device_id: null,
        },
      }),
    );
    expect(sync).toMatchObject([{ field: 'u:c', rank: 0, version: 3 }]);
  });

  it('ignores offline batches (its own output)', () => {
    expect(toKept(update(1, { [TypeName.OfflineBatch]: { updates: [] } }))).toBeNull();
  });

  it('batches oldest first, chunked, with ids derived from the batch id', () => {
    const values = [3, 1, 2].flatMap((v) => stored(update(v, status(`m${v}`, 'READ'))));
    expect(fromKept(values[0]!).version).toBe(3);
    const [first, second] = offlineBatches('ana', 'b1', values, 100, 2);
    expect(first!.update_id).toBe('b1:0');
    expect(second!.update_id).toBe('b1:1');
    const ids = (b: ReceiptUpdate) =>
      (b.payload as { [TypeName.OfflineBatch]: { updates: ReceiptUpdate['payload'][] } })[
        TypeName.OfflineBatch
      ].updates.map((u) => JSON.stringify(u).match(/m\d/)![0]);
    expect([...ids(first!), ...ids(second!)]).toEqual(['m1', 'm2', 'm3']);
    expect(first!.version).toBe(2);
    expect(offlineBatches('ana', 'b1', values, 100, 500)[0]!.update_id).toBe('b1');
  });
});

describe('offline coalescing of group summaries', () => {
  it("keeps a sender's summary message by message, READ above DELIVERED", () => {
    const kept = toKept(
      update(4, senderSummary('g', 4000, counts('m5', 5, 1), counts('m3', 3, 0))),
    );
    expect(kept).toMatchObject([
      { field: 'g:g:m5', rank: 2, version: 4 },
      { field: 'g:g:m3', rank: 1, version: 4 },
    ]);
    expect(fromKept(`2|4|${kept![0]!.value}`).update).toEqual(
      senderSummary('g', 4000, counts('m5', 5, 1)),
    );
  });

  it('keeps a GroupSummary of an earlier build under the same field, in the new shape', () => {
    const legacy = toKept(
      update(2, {
        [TypeName.GroupSummary]: {
          conversation_id: 'g',
          ...counts('m3', 3, 2),
          window_start: 0,
          window_end: 2000,
        },
      }),
    );
    expect(legacy).toMatchObject([{ field: 'g:g:m3', rank: 2 }]);
    expect(fromKept(`2|2|${legacy![0]!.value}`).update).toEqual(
      senderSummary('g', 2000, counts('m3', 3, 2)),
    );
  });

  it("batches a conversation's kept messages as one summary where its newest stood", () => {
    const values = keptValues(
      update(1, senderSummary('g', 2000, counts('m2', 2, 1), counts('m1', 1, 1))),
      update(2, status('d1', 'READ')),
      update(3, senderSummary('h', 6000, counts('x1', 1, 0))),
      // A later window changed m3 and m2 again: m2's newer counts replace the kept ones.
      update(4, senderSummary('g', 8000, counts('m3', 3, 1), counts('m2', 2, 2))),
    );
    const [batch] = offlineBatches('ana', 'b', values, 100, 500);
    expect(updatesOf(batch!)).toEqual([
      status('d1', 'READ'),
      senderSummary('h', 6000, counts('x1', 1, 0)),
      {
        [TypeName.GroupSenderSummary]: {
          conversation_id: 'g',
          messages: [counts('m3', 3, 1), counts('m2', 2, 2), counts('m1', 1, 1)],
          window_start: 0,
          window_end: 8000,
        },
      },
    ]);
  });
});

describe('offline batches leave deleted messages out (issue 14)', () => {
  const sync: ReceiptUpdate['payload'] = {
    [TypeName.UnreadSync]: {
      conversation_id: 'c',
      unread_count: 1,
      badge_count: 1,
      read_up_to_seq: 4,
      origin_device_id: null,
    },
  };
  const values = keptValues(
    update(1, status('d1', 'READ')),
    update(2, status('d2', 'DELIVERED')),
    update(3, senderSummary('g', 2000, counts('m2', 2, 1), counts('m1', 1, 1))),
    update(4, senderSummary('h', 4000, counts('x1', 1, 0))),
    update(5, sync),
  );
  const deleted = new Map([
    ['c', new Set(['d2'])],
    ['g', new Set(['m2'])],
    ['h', new Set(['x1'])],
  ]);
  const isDeleted = (c: string, m: string) => deleted.get(c)?.has(m) ?? false;

  it('names every message the kept values tell of, per conversation', () => {
    expect(keptMessages(values)).toEqual(
      new Map([
        ['c', ['d1', 'd2']],
        ['g', ['m2', 'm1']],
        ['h', ['x1']],
      ]),
    );
  });

  it("drops a deleted message's status and counts, keeps the rest and the unread syncs", () => {
    const [batch] = offlineBatches('ana', 'b', values, 100, 500, isDeleted);
    expect(updatesOf(batch!)).toEqual([
      status('d1', 'READ'),
      senderSummary('g', 2000, counts('m1', 1, 1)),
      sync,
    ]);
    expect(keptOfDeleted(values, isDeleted)).toBe(3);
  });

  it('sends no record when every kept update was of a deleted message', () => {
    const gone = keptValues(update(2, status('d2', 'DELIVERED')));
    expect(offlineBatches('ana', 'b', gone, 100, 500, isDeleted)).toEqual([]);
  });
});
