import { parseHeld, serializeHeld } from './held-entry';
import type { ReceiptJob } from './receipt-job';

const job: ReceiptJob = {
  conversationId: 'c1',
  userId: 'u1',
  deviceId: 'd1',
  occurredAt: 1_700_000_000_000,
  command: { type: 'dlv_ids', messageIds: ['m1', 'm2'] },
  version: 42,
  deadline: 1_700_000_030_000,
  record: {
    topic: 'receipt_events',
    partition: 3,
    offset: '42',
    timestamp: 1_700_000_000_001,
    key: Buffer.from('c1'),
    value: Buffer.from([0, 0, 0, 0, 7, 1, 2, 255]),
  },
};

describe('held entries', () => {
  it('carry readable field names, the reason and the original record', () => {
    expect(JSON.parse(serializeHeld(job, 'UNKNOWN_MESSAGE'))).toEqual({
      conversationId: 'c1',
      userId: 'u1',
      deviceId: 'd1',
      occurredAt: 1_700_000_000_000,
      command: { type: 'dlv_ids', messageIds: ['m1', 'm2'] },
      deadline: 1_700_000_030_000,
      reason: 'UNKNOWN_MESSAGE',
      record: {
        topic: 'receipt_events',
        partition: 3,
        offset: '42',
        timestamp: 1_700_000_000_001,
        key: Buffer.from('c1').toString('base64'),
        value: Buffer.from([0, 0, 0, 0, 7, 1, 2, 255]).toString('base64'),
      },
    });
  });

  it('give back the job, held as the entry itself', () => {
    const entry = serializeHeld(job, 'UNKNOWN_MESSAGE');
    expect(parseHeld(entry)).toEqual({ ...job, heldAs: entry });
  });

  it('are the same string for the same job and reason, so holding a replay again adds nothing', () => {
    expect(serializeHeld({ ...job }, 'NOT_A_MEMBER')).toBe(serializeHeld(job, 'NOT_A_MEMBER'));
  });

  it('keep a record without key or value', () => {
    const bare = { ...job, record: { ...job.record, key: null, value: null } };
    const entry = serializeHeld(bare, 'SEQ_NOT_REACHED');
    expect(parseHeld(entry)).toEqual({ ...bare, heldAs: entry });
  });

  it('written by the previous version (short keys) still parse', () => {
    const old = JSON.stringify({
      c: 'c1',
      u: 'u1',
      d: 'd1',
      at: 1_700_000_000_000,
      cmd: { type: 'read', seq: 9 },
      dl: 1_700_000_030_000,
      why: 'SEQ_NOT_REACHED',
      t: 'receipt_events',
      p: 3,
      o: '42',
      ts: 1_700_000_000_001,
      k: Buffer.from('c1').toString('base64'),
      v: null,
    });
    expect(parseHeld(old)).toEqual({
      conversationId: 'c1',
      userId: 'u1',
      deviceId: 'd1',
      occurredAt: 1_700_000_000_000,
      command: { type: 'read', seq: 9 },
      version: 42,
      deadline: 1_700_000_030_000,
      heldAs: old,
      record: {
        topic: 'receipt_events',
        partition: 3,
        offset: '42',
        timestamp: 1_700_000_000_001,
        key: Buffer.from('c1'),
        value: null,
      },
    });
  });
});
