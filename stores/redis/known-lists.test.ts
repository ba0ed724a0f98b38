import { KnownLists, sameIds } from './known-lists';

describe('KnownLists', () => {
  it('keeps at most maxUsers lists, the least recently used leaving first', () => {
    const lists = new KnownLists(2, 1000);
    lists.set('a', ['1']);
    lists.set('b', ['2']);
    expect(lists.get('a')).toEqual(['1']); // a used: b is now the oldest
    lists.set('c', ['3']);
    expect(lists.get('b')).toBeUndefined();
    expect(lists.get('a')).toEqual(['1']);
    expect(lists.get('c')).toEqual(['3']);
  });

  it('keeps at most maxIds ids in all, and no list longer than that', () => {
    const lists = new KnownLists(100, 5);
    lists.set('a', ['1', '2', '3']);
    lists.set('b', ['4', '5']);
    lists.set('c', ['6']); // 6 ids: a, the oldest, leaves
    expect(lists.get('a')).toBeUndefined();
    expect(lists.get('b')).toEqual(['4', '5']);
    lists.set('b', ['4']); // replaced, not added to
    lists.set('d', ['7', '8', '9']);
    expect(lists.get('b')).toEqual(['4']);
    lists.set('huge', ['1', '2', '3', '4', '5', '6']);
    expect(lists.get('huge')).toBeUndefined();
  });
});

describe('sameIds', () => {
  it('compares as sets of distinct ids', () => {
    expect(sameIds(['a', 'b'], ['b', 'a'])).toBe(true);
    expect(sameIds(['a', 'b'], ['a', 'c'])).toBe(false);
    expect(sameIds(['a'], ['a', 'b'])).toBe(false);
    expect(sameIds([], [])).toBe(true);
  });
});
