import { TypeName, type StateChange } from '../schemas/types';
import { slicesOf } from './slices';

/**
 * The state_changes changelog goes out as one record per step and input partition (a
 * StateChangeBatch), to the same partition number: state_changes is co-partitioned with the
 * inputs, so a conversation's changes stay in one partition, in order. A record holds at most
 * CHANGES_PER_RECORD changes and about IDS_PER_RECORD delivered message ids, far below the
 * broker's 1 MB record limit whatever the ids.
 */
export const CHANGES_PER_RECORD = 512;
export const IDS_PER_RECORD = 4_000;

/** Positions keep changes ordered across records: offset × POSITION_SCALE + index in the record. */
const POSITION_SCALE = 1_024;

/**
 * A change's position in its state_changes partition: increases with the record's offset and
 * with the change's index inside it. Exact below 2^53 (offsets below ~8.8 × 10^12).
 */
export function changelogPosition(offset: number, index: number): number {
  return offset * POSITION_SCALE + index;
}

/** The changes in record-sized slices, in order. */
export function changelogRecords(changes: readonly StateChange[]): StateChange[][] {
  return slicesOf(changes, {
    maxItems: CHANGES_PER_RECORD,
    maxWeight: IDS_PER_RECORD,
    weight: idsIn,
  });
}

function idsIn({ change }: StateChange): number {
  return TypeName.MessagesDelivered in change
    ? change[TypeName.MessagesDelivered].message_ids.length
    : 0;
}
