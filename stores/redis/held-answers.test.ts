import { HeldAnswers } from './held-answers';

describe('HeldAnswers', () => {
  const weighed = () => new HeldAnswers<string, number>(10, (v) => v);

  it('drops the least recently used over the weight bound; a get makes an answer recent', () => {
    const held = weighed();
    held.set('a', 4);
    held.set('b', 4);
    expect(held.get('a')).toBe(4); // a is now the most recent
    held.set('c', 4); // 12 > 10: b, the least recently used, leaves
    expect(held.get('b')).toBeUndefined();
    expect(held.get('a')).toBe(4);
    expect(held.get('c')).toBe(4);
  });

  it('replaces an answer by key, its weight counted once; one over the bound is not kept', () => {
    const held = weighed();
    held.set('a', 6);
    held.set('a', 6);
    held.set('b', 4); // 10: both stay
    expect([held.get('a'), held.get('b')]).toEqual([6, 4]);
    held.set('big', 11);
    expect(held.get('big')).toBeUndefined();
    expect([held.get('a'), held.get('b')]).toEqual([6, 4]);
    held.delete('a');
    held.set('c', 6); // 10 again once a left
    expect([held.get('b'), held.get('c')]).toEqual([4, 6]);
  });
});
