import { hashTag, keySlot } from './slots';

describe('keySlot', () => {
  // Values as CLUSTER KEYSLOT answers them (Redis Cluster specification's examples and redis-cli).
  it.each([
    ['123456789', 12739],
    ['foo', 12182],
    ['bar', 5061],
    ['', 0],
  ])('slot of %j is %d', (key, slot) => {
    expect(keySlot(key)).toBe(slot);
  });

  it('hashes only the first non-empty hash tag', () => {
    expect(keySlot('ticks:{c:42}:meta')).toBe(keySlot('c:42'));
    expect(keySlot('ticks:{c:42}:dlv:{m1}')).toBe(keySlot('ticks:{c:42}:meta'));
    expect(hashTag('p:{c:1}:read')).toBe('c:1');
    expect(hashTag('p:{}:x{y}')).toBe('p:{}:x{y}'); // the first {…} is empty: the whole key
    expect(hashTag('no tag')).toBe('no tag');
  });
});
