import type { Principal } from './token-service';
import { VerifiedTokens } from './verified-tokens';

const principal = (userId: string, expiresAt: number): Principal => ({
  userId,
  deviceId: null,
  expiresAt,
});

describe('VerifiedTokens', () => {
  let now = 1_000_000;
  const clock = () => now;

  it('answers a token it holds until the token expires, then forgets it', () => {
    const cache = new VerifiedTokens<Principal>(10, clock);
    cache.set('h.p.sig1', principal('ana', now + 1000));
    expect(cache.get('h.p.sig1')?.userId).toBe('ana');
    now += 999;
    expect(cache.get('h.p.sig1')?.userId).toBe('ana');
    now += 1;
    expect(cache.get('h.p.sig1')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('does not answer another token that carries a known signature', () => {
    const cache = new VerifiedTokens<Principal>(10, clock);
    cache.set('h.ana.sig', principal('ana', now + 1000));
    expect(cache.get('h.eve.sig')).toBeUndefined();
  });

  it('holds at most maxEntries, dropping the least recently used', () => {
    const cache = new VerifiedTokens<Principal>(3, clock);
    for (const n of [1, 2, 3]) cache.set(`h.p.s${n}`, principal(`u${n}`, now + 1000));
    expect(cache.get('h.p.s1')?.userId).toBe('u1'); // s1 used: s2 is now the oldest
    cache.set('h.p.s4', principal('u4', now + 1000));
    expect(cache.size).toBe(3);
    expect(cache.get('h.p.s2')).toBeUndefined();
    expect(cache.get('h.p.s1')?.userId).toBe('u1');
    for (let n = 5; n < 1000; n++) cache.set(`h.p.s${n}`, principal(`u${n}`, now + 1000));
    expect(cache.size).toBe(3);
  });

  it('holds nothing with maxEntries 0', () => {
    const cache = new VerifiedTokens<Principal>(0, clock);
    cache.set('h.p.s', principal('ana', now + 1000));
    expect(cache.get('h.p.s')).toBeUndefined();
  });
});
