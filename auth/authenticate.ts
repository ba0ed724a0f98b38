import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthError } from './auth-error';
import type { Principal, TokenService } from './token-service';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authenticate hook on every authenticated route. */
    principal: Principal | null;
  }
}

/**
 * An onRequest hook: runs before the body is read, so an unauthenticated client learns nothing
 * about validation. WebSocket upgrades cannot carry headers from a browser, so `access_token`
 * in the query string is accepted there (as RFC 6750 allows).
 */
export function authenticate(tokens: TokenService, options: { allowQueryToken?: boolean } = {}) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization;
    if (!header && options.allowQueryToken) {
      const token = (request.query as Record<string, unknown> | undefined)?.access_token;
      if (typeof token === 'string' && token.length > 0) {
        request.principal = tokens.verify(token);
        return;
      }
    }
    request.principal = tokens.fromAuthorization(header);
  };
}

/** The caller, on a route behind authenticate(). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AuthError('not authenticated');
  return request.principal;
}
