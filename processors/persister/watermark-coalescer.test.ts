import { WatermarkCoalescer, type WatermarkObservation } from './watermark-coalescer';

const obs = (
  userId: string,
  readSeq: number,
  deliveredSeq: number,
  at: number,
  conversationId = 'c1',
): WatermarkObservation => ({ conversationId, userId, readSeq, deliveredSeq, at });

describe('WatermarkCoalescer', () => {
  it('keeps one entry per key with the highest values, whatever the arrival order', () => {
    const c = new WatermarkCoalescer();
    c.absorb([
      obs('u1', 3, 5, 100),
      obs('u1', 7, 7, 200),
      obs('u1', 5, 9, 300),
      obs('u2', 1, 1, 50),
    ]);
    expect(c.size).toBe(2);
    const drained = c.drain();
    expect(drained).toEqual([
      {
        conversationId: 'c1',
        userId: 'u1',
        readSeq: 7,
        readAt: 200,
        deliveredSeq: 9,
        deliveredAt: 300,
        writeRead: true,
        writeDelivered: true,
      },
      expect.objectContaining({ userId: 'u2', readSeq: 1, deliveredSeq: 1 }),
    ]);
    expect(c.size).toBe(0);
  });

  it('keeps the time of the first change that reached a seq', () => {
    const c = new WatermarkCoalescer();
    c.absorb([obs('u1', 4, 4, 100), obs('u1', 4, 6, 400)]);
    const [e] = c.drain();
    expect(e).toMatchObject({ readSeq: 4, readAt: 100, deliveredSeq: 6, deliveredAt: 400 });
  });

  it('writes only the watermark that moved since the last flush', () => {
    const c = new WatermarkCoalescer();
    c.absorb([obs('u1', 4, 4, 100)]);
    c.markFlushed(c.drain());
    c.absorb([obs('u1', 4, 8, 200)]);
    const [e] = c.drain();
    expect(e).toMatchObject({ writeRead: false, writeDelivered: true, deliveredSeq: 8 });
  });

  it('writes nothing for a key that did not move (a replayed, older change)', () => {
    const c = new WatermarkCoalescer();
    c.absorb([obs('u1', 9, 9, 100)]);
    c.markFlushed(c.drain());
    c.absorb([obs('u1', 3, 5, 50)]);
    expect(c.drain()).toEqual([]);
  });

  it('knows the highest value of a key, pending or flushed', () => {
    const c = new WatermarkCoalescer();
    expect(c.known('c1', 'u1')).toBeUndefined();
    c.absorb([obs('u1', 9, 9, 100)]);
    c.markFlushed(c.drain());
    c.absorb([obs('u1', 2, 12, 200)]);
    expect(c.known('c1', 'u1')).toEqual({ readSeq: 9, deliveredSeq: 12 });
  });

  it('puts a failed flush back, merged with what arrived meanwhile', () => {
    const c = new WatermarkCoalescer();
    c.absorb([obs('u1', 5, 5, 100), obs('u2', 1, 1, 100)]);
    const taken = c.drain();
    c.absorb([obs('u1', 7, 7, 200)]);
    c.restore(taken);
    const again = c.drain();
    expect(again).toHaveLength(2);
    expect(again.find((e) => e.userId === 'u1')).toMatchObject({ readSeq: 7, readAt: 200 });
  });

  it('remembers a bounded number of flushed keys', () => {
    const c = new WatermarkCoalescer(2);
    c.absorb([obs('a', 1, 1, 1), obs('b', 1, 1, 1), obs('c', 1, 1, 1)]);
    c.markFlushed(c.drain());
    expect(c.known('c1', 'a')).toBeUndefined();
    expect(c.known('c1', 'c')).toEqual({ readSeq: 1, deliveredSeq: 1 });
  });

  it('separates conversations', () => {
    const c = new WatermarkCoalescer();
    c.absorb([obs('u1', 1, 1, 1, 'c1'), obs('u1', 2, 2, 2, 'c2')]);
    expect(c.size).toBe(2);
  });
});
