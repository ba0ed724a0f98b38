import { pushReduction, windowReceiptsClass } from '../../runtime/metrics';
import type { ReceiptInput } from '../../stores/redis/conversation-store';
import { groupOfThreeSenders, receipt, stepAt } from '../../tests/support/engine-fixtures';
import { applyReceipts } from '../engine/apply-receipts';
import { collectWindow } from '../engine/group-window';
import { summariseWindow } from './group-summary';

/**
 * What the window closer counts for one window: the pushes it sends and the pushes the
 * direct-chat rule would have sent for the same receipts. Four members; m1 ana, m2 bo, m3 cy,
 * m4 ana; each sender has read up to their own message, dee nothing.
 */
function closeWindowAfter(receipts: ReceiptInput[]) {
  const state = groupOfThreeSenders({ deliveredBy: { m1: [], m2: [], m3: [], m4: [] } });
  applyReceipts(state, receipts, stepAt());
  const window = collectWindow(state, 50)!;
  const pushes = summariseWindow('g', window, () => true, 0, 2000);
  return { window, pushes, sent: pushes.length, unwindowed: window.unwindowed! };
}

describe('push reduction = 1 − pushes sent ÷ pushes one per receipt and newly covered sender', () => {
  it('one read covering three senders: three pushes either way, no reduction', () => {
    const { sent, unwindowed } = closeWindowAfter([receipt('dee', { type: 'read', seq: 4 })]);
    expect([sent, unwindowed]).toEqual([3, 3]);
    expect(pushReduction(sent, unwindowed)).toBe(0);
  });

  it('three reads in a window: 3 + 2 + 1 pushes without it, one per sender with it (50 %)', () => {
    const { window, pushes, sent, unwindowed } = closeWindowAfter([
      receipt('dee', { type: 'read', seq: 4 }), // (0, 4]: ana, bo, cy
      receipt('bo', { type: 'read', seq: 4 }), // (2, 4]: cy, ana
      receipt('cy', { type: 'read', seq: 4 }), // (3, 4]: ana
    ]);
    expect([sent, unwindowed]).toEqual([3, 6]);
    expect(pushReduction(sent, unwindowed)).toBe(0.5);
    expect(windowReceiptsClass(window.absorbed)).toBe('2-4');
    // ana's one push carries both her messages, each read by the three others.
    const ana = pushes.find((p) => p.recipient === 'ana')!.summary.messages;
    expect(ana.map((m) => [m.message_id, m.read_count, m.total])).toEqual([
      ['m4', 3, 3],
      ['m1', 3, 3],
    ]);
  });

  it('a delivery that newly covers nobody else adds no push either way', () => {
    const { sent, unwindowed } = closeWindowAfter([
      receipt('dee', { type: 'dlv_seq', seq: 2 }), // (0, 2]: ana, bo
      receipt('cy', { type: 'dlv_seq', seq: 3 }), // at cy's own watermark: nothing
    ]);
    expect([sent, unwindowed]).toEqual([2, 2]);
  });

  it('is undefined (null), not 100 % or −∞, when nothing would have been pushed', () => {
    expect(pushReduction(0, 0)).toBeNull();
    expect(pushReduction(12, 240)).toBe(0.95);
  });
});

describe('windowReceiptsClass', () => {
  it.each([
    [1, '1'],
    [4, '2-4'],
    [5, '5-19'],
    [19, '5-19'],
    [20, '20+'],
  ])('%i receipts → %s', (n, label) => expect(windowReceiptsClass(n)).toBe(label));
});
