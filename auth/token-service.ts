import { createSigner, createVerifier, TokenError } from 'fast-jwt';
import { AuthError } from './auth-error';

/** Who is calling: from a verified token. */
export interface Principal {
  userId: string;
  /** The device the token was issued for; null when it is for the user as a whole. */
  deviceId: string | null;
}

export interface TokenServiceOptions {
  /** HS256 secret (config TICKS_AUTH_SECRET). */
  secret: string;
  ttlSeconds: number;
  issuer?: string;
}

interface Claims {
  sub: string;
  dev?: string;
}

const ID = /^[^\s]{1,200}$/;

/**
 * Bearer tokens: JWTs signed with HMAC-SHA256 (fast-jwt), carrying the user id (`sub`) and
 * optionally a device id (`dev`). Verification accepts only HS256 and our issuer, and requires
 * an expiry.
 */
export class TokenService {
  private readonly sign: (payload: Claims) => string;
  private readonly verifyToken: (token: string) => Claims;

  constructor(options: TokenServiceOptions) {
    const iss = options.issuer ?? 'ticks';
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
      requiredClaims: ['sub', 'exp'],
      clockTolerance: 5000,
    });
  }

  issue(userId: string, deviceId?: string): string {
    if (!ID.test(userId)) throw new Error(`invalid user id ${JSON.stringify(userId)}`);
    if (deviceId !== undefined && !ID.test(deviceId))
      throw new Error(`invalid device id ${JSON.stringify(deviceId)}`);
    return this.sign(deviceId === undefined ? { sub: userId } : { sub: userId, dev: deviceId });
  }

  /** The principal of a token; AuthError saying why when it is not valid. */
  verify(token: string): Principal {
    let claims: Claims;
    try {
      claims = this.verifyToken(token);
    } catch (err) {
      const why =
        err instanceof TokenError && err.code === TokenError.codes.expired
          ? 'the token has expired'
          : 'the token is not valid';
      throw new AuthError(why);
    }
    if (typeof claims.sub !== 'string' || !ID.test(claims.sub))
      throw new AuthError('the token has no valid user id (sub)');
    const dev = typeof claims.dev === 'string' && ID.test(claims.dev) ? claims.dev : null;
    return { userId: claims.sub, deviceId: dev };
  }

  /** The principal of an `Authorization: Bearer <token>` header value. */
  fromAuthorization(header: string | undefined): Principal {
    if (!header) throw new AuthError('missing Authorization: Bearer <token> header');
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!match) throw new AuthError('the Authorization header must be "Bearer <token>"');
    return this.verify(match[1]!);
  }
}
