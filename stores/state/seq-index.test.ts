import { compareMembers, SeqIndex } from './seq-index';

describe('compareMembers: Redis order of equal-score members (UTF-8 bytes)', () => {
  it('orders ASCII as plain comparison, shorter prefix first', () => {
    const ids = ['m2', 'm10', 'M1', 'm1', 'm', 'a'];
    expect([...ids].sort(compareMembers)).toEqual(['M1', 'a', 'm', 'm1', 'm10', 'm2']);
  });

  it('puts characters outside the BMP after U+E000..U+FFFF, as UTF-8 does', () => {
    const astral = '\u{1F600}'; // surrogate pair: UTF-16 sorts it before U+FF01
    const fullwidth = '\uFF01';
    expect(astral < fullwidth).toBe(true);
    expect(compareMembers(astral, fullwidth)).toBeGreaterThan(0);
    expect(Buffer.compare(Buffer.from(astral), Buffer.from(fullwidth))).toBeGreaterThan(0);
  });
});

describe('SeqIndex', () => {
  const build = (entries: Array<[string, number]>) => {
    const index = new SeqIndex();
    for (const [id, seq] of entries) index.set(id, seq);
    return index;
  };

  it('keeps entries by seq, then id, whatever the insertion order', () => {
    const index = build([
      ['m5', 5],
      ['m1', 1],
      ['b3', 3],
      ['a3', 3],
      ['m9', 9],
    ]);
    expect([...index.entries()]).toEqual([
      ['m1', 1],
      ['a3', 3],
      ['b3', 3],
      ['m5', 5],
      ['m9', 9],
    ]);
  });

  it('moves an id sent again with another seq (ZADD updates the score)', () => {
    const index = build([
      ['x', 2],
      ['y', 4],
      ['x', 7],
    ]);
    expect([...index.entries()]).toEqual([
      ['y', 4],
      ['x', 7],
    ]);
    expect(index.set('x', 7)).toBe(false);
    expect(index.size).toBe(2);
  });

  it('counts messages after a watermark (ZCOUNT (w +inf)', () => {
    const index = build([
      ['a', 1],
      ['b', 2],
      ['c', 2],
      ['d', 5],
    ]);
    expect([0, 1, 2, 3, 5, 9].map((w) => index.countAbove(w))).toEqual([4, 3, 1, 1, 0, 0]);
  });

  it('lists the newest at or below x and above y, newest first, reverse id order on ties', () => {
    const index = build([
      ['a', 1],
      ['b2', 2],
      ['a2', 2],
      ['c', 3],
      ['d', 5],
    ]);
    expect(index.newest(4, 0, 10)).toEqual(['c', 'b2', 'a2', 'a']);
    expect(index.newest(5, 1, 10)).toEqual(['d', 'c', 'b2', 'a2']);
    expect(index.newest(5, 1, 2)).toEqual(['d', 'c']);
    expect(index.newest(2, 2, 10)).toEqual([]);
    expect(index.newest(0, -1, 10)).toEqual([]);
  });
});
