import { createSigner, createVerifier, TokenError } from 'fast-jwt';
import type { TicksConfig } from '../config/config';
import { AuthError } from './auth-error';
import { VerifiedTokens } from './verified-tokens';

/** Who is calling: from a verified token. */
export interface Principal {
  userId: string;
  /** The device the token was issued for; null when it is for the user as a whole. */
  deviceId: string | null;
  /** When the token expires (epoch ms): a WebSocket opened with it is closed then. */
  expiresAt: number;
}

export interface TokenServiceOptions {
  /** HS256 secret (config TICKS_AUTH_SECRET). */
  secret: string;
  /** Lifetime of the tokens issue() signs (TICKS_AUTH_TOKEN_TTL_SECONDS). */
  ttlSeconds: number;
  /** Longest lifetime, exp - iat, of a token verify() accepts (TICKS_AUTH_MAX_TOKEN_LIFETIME_SECONDS). */
  maxLifetimeSeconds: number;
  issuer?: string;
  /** Verified tokens remembered until they expire (default 10,000; 0: verify every time). */
  cacheSize?: number;
}

interface Claims {
  sub: string;
  dev?: string;
  iat: number;
  exp: number;
}

const CLOCK_TOLERANCE_MS = 5000;

const ID = /^[^\s]{1,200}$/;

/**
 * Bearer tokens: JWTs signed with HMAC-SHA256 (fast-jwt), carrying the user id (`sub`) and
 * optionally a device id (`dev`). Verification accepts only HS256 and requires our issuer
 * (`iss`), an issue time (`iat`, not in the future) and an expiry (`exp`) at most
 * maxLifetimeSeconds after it: a leaked token is good for a bounded time, whoever signed it.
 */
export class TokenService {
  private readonly sign: (payload: { sub: string; dev?: string }) => string;
  private readonly verifyToken: (token: string) => Claims;
  private readonly maxLifetimeSeconds: number;
  private readonly verified: VerifiedTokens<Principal>;

  constructor(options: TokenServiceOptions) {
    if (options.ttlSeconds > options.maxLifetimeSeconds)
      throw new Error(
        `tokens of ${options.ttlSeconds} s would outlive the ${options.maxLifetimeSeconds} s accepted`,
      );
    const iss = options.issuer ?? 'ticks';
    this.maxLifetimeSeconds = options.maxLifetimeSeconds;
    this.verified = new VerifiedTokens(options.cacheSize ?? 10_000);
    this.sign = createSigner({
      key: options.secret,
      algorithm: 'HS256',
      iss,
      expiresIn: options.ttlSeconds * 1000,
    });
    this.verifyToken = createVerifier({
      key: options.secret,
      algorithms: ['HS256'],
      allowedIss: iss,
      requiredClaims: ['sub', 'iss', 'iat', 'exp'],
      clockTolerance: CLOCK_TOLERANCE_MS,
    });
  }

  /** Tokens as the configuration says (TICKS_AUTH_*). */
  static fromConfig(auth: TicksConfig['auth']): TokenService {
    return new TokenService({
      secret: auth.secret,
      ttlSeconds: auth.tokenTtlSeconds,
      maxLifetimeSeconds: auth.maxTokenLifetimeSeconds,
    });
  }

  issue(userId: string, deviceId?: string): string {
    if (!ID.test(userId)) throw new Error(`invalid user id ${JSON.stringify(userId)}`);
    if (deviceId !== undefined && !ID.test(deviceId))
      throw new Error(`invalid device id ${JSON.stringify(deviceId)}`);
    return this.sign(deviceId === undefined ? { sub: userId } : { sub: userId, dev: deviceId });
  }

  /**
   * The principal of a token; AuthError saying why when it is not valid. A token is verified
   * once and remembered until it expires (a client sends the same one with every request).
   */
  verify(token: string): Principal {
    const known = this.verified.get(token);
    if (known) return known;
    const principal = this.verifyClaims(token);
    this.verified.set(token, principal);
    return principal;
  }

  /** Tokens remembered as verified (bounded by cacheSize). */
  get cachedTokens(): number {
    return this.verified.size;
  }

  private verifyClaims(token: string): Principal {
    let claims: Claims;
    try {
      claims = this.verifyToken(token);
    } catch (err) {
      throw new AuthError(refusal(err));
    }
    if (typeof claims.sub !== 'string' || !ID.test(claims.sub))
      throw new AuthError('the token has no valid user id (sub)');
    if (typeof claims.iat !== 'number' || !Number.isFinite(claims.iat))
      throw new AuthError('the token has no valid issue time (iat)');
    if (claims.iat * 1000 > Date.now() + CLOCK_TOLERANCE_MS)
      throw new AuthError('the token is issued in the future (iat)');
    if (claims.exp - claims.iat > this.maxLifetimeSeconds)
      throw new AuthError(
        `the token lives ${claims.exp - claims.iat} s (exp - iat), longer than the ${this.maxLifetimeSeconds} s accepted`,
      );
    const dev = typeof claims.dev === 'string' && ID.test(claims.dev) ? claims.dev : null;
    return { userId: claims.sub, deviceId: dev, expiresAt: claims.exp * 1000 };
  }

  /** The principal of an `Authorization: Bearer <token>` header value. */
  fromAuthorization(header: string | undefined): Principal {
    if (!header) throw new AuthError('missing Authorization: Bearer <token> header');
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!match) throw new AuthError('the Authorization header must be "Bearer <token>"');
    return this.verify(match[1]!);
  }
}

/** Why fast-jwt refused a token, as the caller may be told. */
function refusal(err: unknown): string {
  if (!(err instanceof TokenError)) return 'the token is not valid';
  switch (err.code) {
    case TokenError.codes.expired:
      return 'the token has expired';
    case TokenError.codes.missingRequiredClaim:
      return `the token is not valid: ${err.message}`; // names the claim (iss, iat, exp, sub)
    case TokenError.codes.invalidClaimValue:
      return `the token is not valid: ${err.message}`; // e.g. another issuer
    default:
      return 'the token is not valid';
  }
}
