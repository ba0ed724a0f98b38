import { heldUserOf, parseHeld, serializeHeld } from './held-entry';
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
  it('are compact: no field names, no deadline (the score), no reason', () => {
    expect(JSON.parse(serializeHeld(job))).toEqual([
      'h3',
      'c1',
      'u1',
      'd1',
      1_700_000_000_000,
      { type: 'dlv_ids', messageIds: ['m1', 'm2'] },
      'receipt_events',
      3,
      '42',
      1_700_000_000_001,
      Buffer.from('c1').toString('base64'),
      Buffer.from([0, 0, 0, 0, 7, 1, 2, 255]).toString('base64'),
    ]);
  });

  it('give back the job, with the deadline they are scored by, held as the entry itself', () => {
    const entry = serializeHeld(job);
    expect(parseHeld(entry, job.deadline)).toEqual({ ...job, heldAs: entry });
    expect(heldUserOf(entry)).toBe('u1');
  });

  it('are the same string for the same receipt whenever it is held, so a replay adds nothing', () => {
    expect(serializeHeld({ ...job, deadline: job.deadline + 5_000 })).toBe(serializeHeld(job));
  });

  it('keep a record without key or value', () => {
    const bare = { ...job, record: { ...job.record, key: null, value: null } };
    const entry = serializeHeld(bare);
    expect(parseHeld(entry, bare.deadline)).toEqual({ ...bare, heldAs: entry });
  });

  it('written with field names (the version before) still parse', () => {
    const named = JSON.stringify({
      conversationId: 'c1',
      userId: 'u1',
      deviceId: 'd1',
      occurredAt: 1_700_000_000_000,
      command: { type: 'read', seq: 9 },
      deadline: 1_700_000_030_000,
      reason: 'SEQ_NOT_REACHED',
      record: {
        topic: 'receipt_events',
        partition: 3,
        offset: '42',
        timestamp: 1_700_000_000_001,
        key: null,
        value: null,
      },
    });
    expect(parseHeld(named, 1_700_000_030_000)).toMatchObject({
      userId: 'u1',
      command: { type: 'read', seq: 9 },
      deadline: 1_700_000_030_000,
      heldAs: named,
    });
    expect(heldUserOf(named)).toBe('u1');
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
    expect(parseHeld(old, 1_700_000_030_000)).toEqual({
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
