import { createSigner } from 'fast-jwt';
import { AuthError } from './auth-error';
import { TokenService } from './token-service';

const secret = 's'.repeat(40);
const tokens = new TokenService({ secret, ttlSeconds: 600, maxLifetimeSeconds: 3600 });
const now = () => Math.floor(Date.now() / 1000);

/** A token signed with the right secret but claims of our choosing (iat: now unless given). */
const signed = (claims: Record<string, unknown>) =>
  createSigner({ key: secret, algorithm: 'HS256' })(claims);
const withoutIat = (claims: Record<string, unknown>) =>
  createSigner({ key: secret, algorithm: 'HS256', noTimestamp: true })(claims);

function refusal(token: string): string {
  try {
    tokens.verify(token);
  } catch (err) {
    expect(err).toBeInstanceOf(AuthError);
    return (err as Error).message;
  }
  throw new Error('the token was accepted');
}

describe('TokenService', () => {
  it('issues tokens with iss, iat and exp that it accepts, with when they expire', () => {
    const before = Date.now();
    const principal = tokens.verify(tokens.issue('ana', 'phone'));
    expect(principal).toMatchObject({ userId: 'ana', deviceId: 'phone' });
    expect(principal.expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 600_000);
    expect(principal.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
  });

  it('refuses a token without an issuer, or with another one', () => {
    expect(refusal(signed({ sub: 'ana', iat: now(), exp: now() + 60 }))).toMatch(/iss/);
    expect(refusal(signed({ sub: 'ana', iss: 'evil', iat: now(), exp: now() + 60 }))).toMatch(
      /iss/,
    );
  });

  it('refuses a token that lives longer than the maximum (exp - iat), or has no iat', () => {
    const long = { sub: 'ana', iss: 'ticks', iat: now(), exp: now() + 3601 };
    expect(refusal(signed(long))).toMatch(/lives 3601 s \(exp - iat\), longer than the 3600 s/);
    expect(refusal(withoutIat({ sub: 'ana', iss: 'ticks', exp: now() + 60 }))).toMatch(/iat/);
    expect(refusal(withoutIat({ sub: 'ana', iss: 'ticks', iat: 'x', exp: now() + 60 }))).toMatch(
      /iat/,
    );
  });

  it('refuses a token issued in the future (it would outlive the maximum from now)', () => {
    const later = now() + 24 * 3600;
    expect(refusal(signed({ sub: 'ana', iss: 'ticks', iat: later, exp: later + 60 }))).toMatch(
      /issued in the future/,
    );
  });

  it('will not issue tokens that it would refuse', () => {
    expect(() => new TokenService({ secret, ttlSeconds: 7200, maxLifetimeSeconds: 3600 })).toThrow(
      /7200 s would outlive the 3600 s/,
    );
  });

  describe('verified tokens cache', () => {
    afterEach(() => jest.useRealTimers());

    it('refuses an expired token it verified before (the cache keeps no token past exp)', () => {
      jest.useFakeTimers({ now: Date.now() });
      const token = signed({ sub: 'ana', iss: 'ticks', iat: now(), exp: now() + 60 });
      expect(tokens.verify(token).userId).toBe('ana'); // verified and cached
      expect(tokens.verify(token).userId).toBe('ana'); // from the cache
      jest.setSystemTime(Date.now() + 66_000); // past exp and the 5 s clock tolerance
      expect(refusal(token)).toMatch(/expired/);
    });

    it('refuses a payload changed under a cached token’s signature', () => {
      const token = tokens.issue('ana');
      tokens.verify(token);
      const [header, payload, signature] = token.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as object;
      const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'eve' })).toString('base64url');
      expect(refusal(`${header}.${forged}.${signature}`)).toMatch(/not valid/);
    });

    it('remembers at most cacheSize tokens', () => {
      const small = new TokenService({
        secret,
        ttlSeconds: 600,
        maxLifetimeSeconds: 3600,
        cacheSize: 5,
      });
      for (let i = 0; i < 50; i++) small.verify(small.issue(`user-${i}`));
      expect(small.cachedTokens).toBe(5);
    });
  });
});
