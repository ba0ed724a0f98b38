import { ConversationState, StateNotLoadedError } from './conversation-state';
import { formatMark, parseMark, parseMessage } from './stored-values';

describe('ConversationState', () => {
  const fresh = () => new ConversationState('c1', 'p:{c:c1}:');

  it('keeps the msg hash and the msgs index together for a sent message', () => {
    const s = fresh();
    expect(s.putMessage('m1', 1, 'ana', '1000')).toBe('1|ana|1000');
    s.putMessage('m2', 2, 'a|b', '1001');
    expect(s.message('m2')).toEqual({ seq: 2, sender: 'a|b', sentAt: '1001' });
    expect(s.countAfter(0)).toBe(2);
    expect(s.newest(2, 0, 5)).toEqual(['m2', 'm1']);
  });

  it('knows no message whose stored value does not parse, as the scripts do not', () => {
    const s = fresh();
    s.setMessageValue('bad', '1|ana|-5');
    expect(s.message('bad')).toBeUndefined();
    expect(s.messageFieldCount).toBe(1);
  });

  it('marks delivery by id once (HSETNX) and only where loaded', () => {
    const s = fresh();
    expect(() => s.markDelivered('m1', 'bo', '7')).toThrow(StateNotLoadedError);
    s.loadDeliveredBy('m1', []);
    expect(s.markDelivered('m1', 'bo', '7')).toBe(true);
    expect(s.markDelivered('m1', 'bo', '8')).toBe(false);
    expect([...s.deliveredBy('m1')!]).toEqual([['bo', '7']]);
  });

  it('estimates its size: grows with what it holds, shrinks when it lets go', () => {
    const s = fresh();
    const empty = s.sizeBytes;
    s.addMember('ana');
    s.setWatermark('read', 'ana', 3);
    s.putMessage('m1', 1, 'ana', '1000');
    s.setWindowField('ver', '12');
    const full = s.sizeBytes;
    expect(full).toBeGreaterThan(empty);
    s.setWatermark('read', 'ana', 4); // same field: no growth
    expect(s.sizeBytes).toBe(full);
    s.removeMember('ana');
    s.deleteWindow();
    expect(s.sizeBytes).toBeLessThan(full);
  });
});

describe('stored values', () => {
  it('reads marks as apply-receipts does: versioned (older), seq-only, or none; writes the seq only', () => {
    expect(parseMark('5|12|m|5')).toEqual({ seq: 5, version: 12, messageId: 'm|5' });
    expect(parseMark('7')).toEqual({ seq: 7, version: -1, messageId: '' });
    expect(parseMark(undefined)).toEqual({ seq: 0, version: -1, messageId: '' });
    expect(formatMark({ seq: 5, version: 12, messageId: 'm' })).toBe('5');
  });

  it('reads a message value with a greedy sender, digits around it', () => {
    expect(parseMessage('3|x|y|99')).toEqual({ seq: 3, sender: 'x|y', sentAt: '99' });
    expect(parseMessage('3|x')).toBeNull();
  });
});
