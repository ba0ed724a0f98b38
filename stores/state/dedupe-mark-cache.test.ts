import { DedupeMarkCache } from './dedupe-mark-cache';

describe('DedupeMarkCache', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 1_000));

  it('keeps a remembered mark until its time to live runs out', () => {
    const cache = new DedupeMarkCache(10, 500, clock);
    cache.of(0).remember('k', '1');
    now += 499;
    expect(cache.of(0).get('k')).toBe('1');
    now += 1;
    expect(cache.of(0).get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used mark above its bound', () => {
    const cache = new DedupeMarkCache(2, 10_000, clock);
    const marks = cache.of(0);
    marks.remember('a', '1');
    marks.remember('b', '0');
    expect(marks.get('a')).toBe('1'); // a used: b is now the oldest
    marks.remember('c', '1');
    expect(cache.size).toBe(2);
    expect(marks.get('b')).toBeUndefined();
    expect(marks.get('a')).toBe('1');
    expect(marks.get('c')).toBe('1');
  });

  it('a reset forgets that partition only, and the views taken before it go blind', () => {
    const cache = new DedupeMarkCache(10, 10_000, clock);
    const p0 = cache.of(0);
    const p1 = cache.of(1);
    p0.remember('a', '1');
    p1.remember('b', '0');
    cache.resetPartition(0);
    expect(cache.of(0).get('a')).toBeUndefined();
    expect(cache.of(1).get('b')).toBe('0');
    p0.remember('c', '1'); // a step of before the reset
    expect(p0.get('c')).toBeUndefined();
    expect(cache.of(0).get('c')).toBeUndefined();
    cache.of(0).remember('d', '0');
    expect(cache.of(0).get('d')).toBe('0');
  });

  it('forget drops a mark about to become false', () => {
    const cache = new DedupeMarkCache(10, 10_000, clock);
    cache.of(0).remember('a', '1');
    cache.of(0).forget('a');
    expect(cache.of(0).get('a')).toBeUndefined();
  });
});
