import { evictionOrder, type Used } from './second-chance';

const entries = (...keys: string[]) =>
  new Map<string, Used & { key: string }>(keys.map((key) => [key, { key, used: false }]));

describe('evictionOrder', () => {
  it('yields the oldest unused first, gives each used entry one more round, and keeps the rest in order', () => {
    const map = entries('a', 'b', 'c', 'd');
    map.get('a')!.used = true;
    map.get('c')!.used = true;
    const evicted: string[] = [];
    for (const [key] of evictionOrder(map)) {
      evicted.push(key);
      map.delete(key);
      if (evicted.length === 2) break;
    }
    expect(evicted).toEqual(['b', 'd']);
    // The used ones moved behind, their bit cleared: next time they go first.
    expect([...map.keys()]).toEqual(['a', 'c']);
    expect([...map.values()].map((v) => v.used)).toEqual([false, false]);
  });

  it('evicts used entries once every entry was used, after one pass', () => {
    const map = entries('a', 'b');
    for (const v of map.values()) v.used = true;
    const [first] = evictionOrder(map);
    expect(first?.[0]).toBe('a');
  });

  it('yields entries the caller keeps without moving them', () => {
    const map = entries('a', 'b');
    expect([...evictionOrder(map)].map(([k]) => k)).toEqual(['a', 'b']);
    expect([...map.keys()]).toEqual(['a', 'b']);
  });
});
