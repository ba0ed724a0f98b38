import { TypeName, type ReceiptUpdate } from '../../schemas/types';
import { fromKept, offlineBatches, toKept } from './kept-update';

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

describe('offline coalescing keys', () => {
  it('one field per message; READ ranks above DELIVERED; unread syncs per conversation', () => {
    expect(toKept(update(1, status('m1', 'DELIVERED')))).toMatchObject({
      field: 's:c:m1',
      rank: 1,
    });
    expect(toKept(update(2, status('m1', 'READ')))).toMatchObject({ field: 's:c:m1', rank: 2 });
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
    expect(sync).toMatchObject({ field: 'u:c', rank: 0, version: 3 });
  });

  it('ignores offline batches (its own output)', () => {
    expect(toKept(update(1, { [TypeName.OfflineBatch]: { updates: [] } }))).toBeNull();
  });

  it('batches oldest first, chunked, with ids derived from the batch id', () => {
    const values = [3, 1, 2].map((v) => {
      const kept = toKept(update(v, status(`m${v}`, 'READ')))!;
      return `${kept.rank}|${kept.version}|${kept.value}`;
    });
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
