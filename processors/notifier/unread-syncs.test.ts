import type { ToldMark } from '../../stores/state/told-marks';
import { decideUnreadSyncs, type UnreadSyncFigures } from './unread-syncs';

const sync = (userId: string, readUpTo: number): UnreadSyncFigures => ({
  userId,
  conversationId: 'c',
  unread: 0,
  readUpTo,
  deviceId: null,
  sourceAt: 0,
});

describe('decideUnreadSyncs', () => {
  it('keeps the syncs at or above what acknowledged steps told the devices, and tells their marks at once', () => {
    const told: ToldMark[] = [];
    const synced = new Map([['B', 5]]);
    const step = {
      syncedUpTo: (_c: string, userId: string) => synced.get(userId) ?? 0,
      told: (mark: ToldMark) => void told.push(mark),
    };
    const decided = decideUnreadSyncs([sync('A', 2), sync('B', 4), sync('B', 5)], step);
    // B's read of 4 is below the 5 told before: a redo does not tell it again.
    expect(decided.map((s) => [s.userId, s.readUpTo])).toEqual([
      ['A', 2],
      ['B', 5],
    ]);
    // Told before any badge size is known: the step writes them ahead with its direct updates.
    expect(told).toEqual([
      ['c', 's:A', '2'],
      ['c', 's:B', '5'],
    ]);
  });
});
