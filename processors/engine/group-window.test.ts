import { StateNotLoadedError } from '../../stores/state/conversation-state';
import { WriteSet } from '../../stores/state/write-set';
import { PREFIX, stateOf } from '../../tests/support/engine-fixtures';
import { clearWindow, collectWindow, windowDeliveredByNeeded } from './group-window';

/**
 * Five messages from two senders; a window with two ranges, (0, 2] and (3, 5], whose receipts
 * newly covered messages of ana and bo (four pushes without the window).
 */
const withWindow = (
  deliveredBy: Record<string, string[]> = { m5: ['cy'], m4: [], m2: [], m1: [] },
  window: Record<string, string> = { unwindowed: '4', 's:ana': '1', 's:bo': '1' },
) =>
  stateOf({
    kind: 'GROUP',
    members: ['ana', 'bo', 'cy'],
    read: { ana: 5, bo: 2 },
    dlvd: { ana: 5, bo: 3, cy: 1 },
    messages: [
      ['m1', 1, 'ana'],
      ['m2', 2, 'ana'],
      ['m3', 3, 'bo'],
      ['m4', 4, 'bo'],
      ['m5', 5, 'ana'],
    ],
    window: { ver: '12', src: '900', 'r:2': '0', 'r:5': '3', absorbed: '4', ...window },
    deliveredBy,
  });

describe('collectWindow', () => {
  it('is null when no window is open', () => {
    expect(collectWindow(stateOf({ kind: 'GROUP' }), 10)).toBeNull();
  });

  it('picks every message of the senders it tells, highest range first, with the watermarks', () => {
    const w = collectWindow(withWindow(), 10)!;
    expect(w).toMatchObject({ lo: 0, hi: 5, version: 12, sourceAt: 900, absorbed: 4 });
    expect(w.unwindowed).toBe(4);
    expect(w.messages).toEqual([
      { id: 'm5', seq: 5, sender: 'ana', deliveredByIds: ['cy'] },
      { id: 'm4', seq: 4, sender: 'bo', deliveredByIds: [] },
      { id: 'm2', seq: 2, sender: 'ana', deliveredByIds: [] },
      { id: 'm1', seq: 1, sender: 'ana', deliveredByIds: [] },
    ]);
    expect([...w.members].sort()).toEqual(['ana', 'bo', 'cy']);
    expect(w.reads.get('cy')).toBe(0); // a member without a watermark counts as 0
    expect(w.delivered.get('bo')).toBe(3);
  });

  it('leaves out the messages of a sender no receipt newly covered', () => {
    const w = collectWindow(withWindow(undefined, { unwindowed: '2', 's:ana': '1' }), 10)!;
    expect(w.messages.map((m) => m.id)).toEqual(['m5', 'm2', 'm1']);
  });

  it('tells every sender of a window an earlier build opened (no counts, no senders noted)', () => {
    const w = collectWindow(withWindow(undefined, {}), 10)!;
    expect(w.unwindowed).toBeNull();
    expect(w.messages.map((m) => m.id)).toEqual(['m5', 'm4', 'm2', 'm1']);
  });

  it('takes at most maxPerSender messages of each sender, newest first; lo/hi span every range', () => {
    const w = collectWindow(withWindow(), 1)!;
    expect(w.messages.map((m) => m.id)).toEqual(['m5', 'm4']);
    expect([w.lo, w.hi]).toEqual([0, 5]);
  });

  it('scans at most scanLimit messages a range', () => {
    const w = collectWindow(withWindow(), 10, 1)!;
    expect(w.messages.map((m) => m.id)).toEqual(['m5', 'm2']);
  });

  it('names the delivered-by-id hashes it needs, and refuses without them', () => {
    const state = withWindow({});
    expect(windowDeliveredByNeeded(state, 10)).toEqual(['m5', 'm4', 'm2', 'm1']);
    expect(() => collectWindow(state, 10)).toThrow(StateNotLoadedError);
  });
});

describe('clearWindow', () => {
  it('deletes the window read at this version', () => {
    const state = withWindow();
    const writes = new WriteSet();
    expect(clearWindow(state, 12, writes)).toBe(true);
    expect(state.window.size).toBe(0);
    expect(writes.commands()).toEqual([['del', `${PREFIX}win`]]);
  });

  it('keeps a window that moved on since it was read', () => {
    const state = withWindow();
    const writes = new WriteSet();
    expect(clearWindow(state, 11, writes)).toBe(false);
    expect(state.window.size).toBe(8);
    expect(writes.commands()).toEqual([]);
  });
});
