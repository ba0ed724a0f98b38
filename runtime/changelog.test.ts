import { TypeName, type StateChange } from '../schemas/types';
import {
  CHANGES_PER_RECORD,
  IDS_PER_RECORD,
  changelogPosition,
  changelogRecords,
} from './changelog';

const read = (n: number): StateChange => ({
  conversation_id: 'c-1',
  source_offset: n,
  change: { [TypeName.WatermarkAdvanced]: { user_id: 'u', read_seq: n, delivered_seq: n, at: 0 } },
});
const delivered = (n: number, ids: number): StateChange => ({
  conversation_id: 'c-1',
  source_offset: n,
  change: {
    [TypeName.MessagesDelivered]: {
      user_id: 'u',
      message_ids: Array.from({ length: ids }, (_, i) => `m-${i}`),
      at: 0,
    },
  },
});

describe('changelogRecords', () => {
  it('keeps a small step in one record, in order', () => {
    const changes = [read(1), delivered(2, 3), read(3)];
    expect(changelogRecords(changes)).toEqual([changes]);
  });

  it('slices a step at CHANGES_PER_RECORD changes, losing none and keeping the order', () => {
    const changes = Array.from({ length: 2 * CHANGES_PER_RECORD + 7 }, (_, i) => read(i));
    const records = changelogRecords(changes);
    expect(records.map((r) => r.length)).toEqual([CHANGES_PER_RECORD, CHANGES_PER_RECORD, 7]);
    expect(records.flat()).toEqual(changes);
  });

  it('slices by delivered ids too, so a record of many id lists stays small', () => {
    const big = Math.floor(IDS_PER_RECORD / 2) + 1;
    const changes = [delivered(1, big), delivered(2, big), read(3), delivered(4, 1)];
    const records = changelogRecords(changes);
    expect(records.map((r) => r.map((c) => c.source_offset))).toEqual([[1], [2, 3, 4]]);
  });

  it('puts a change larger than the id budget in a record of its own', () => {
    const changes = [read(1), delivered(2, IDS_PER_RECORD + 5), read(3)];
    expect(changelogRecords(changes).map((r) => r.length)).toEqual([1, 1, 1]);
  });

  it('makes no record for no changes', () => {
    expect(changelogRecords([])).toEqual([]);
  });
});

describe('changelogPosition', () => {
  it('orders changes by record offset first, then by index in the record', () => {
    const last = changelogPosition(41, CHANGES_PER_RECORD - 1);
    expect(changelogPosition(41, 0)).toBeLessThan(last);
    expect(last).toBeLessThan(changelogPosition(42, 0));
    expect(Number.isSafeInteger(changelogPosition(8e12, CHANGES_PER_RECORD - 1))).toBe(true);
  });
});
