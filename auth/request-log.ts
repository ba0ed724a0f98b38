import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

/** Query parameters whose values are credentials (`access_token`, a one-use ticket...). */
const CREDENTIAL_PARAM = /token|ticket|secret|password|auth|signature/i;

export const REDACTED = '[REDACTED]';

/**
 * `url` with the values of its credential query parameters replaced by [REDACTED]: a browser's
 * WebSocket carries its bearer token as `?access_token=`, and request logs (info level, kept and
 * shipped) must not hold tokens.
 */
export function withoutCredentials(url: string): string {
  const query = url.indexOf('?');
  if (query < 0) return url;
  const params = url
    .slice(query + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const name = pair.slice(0, eq);
      return CREDENTIAL_PARAM.test(decodedName(name)) ? `${name}=${REDACTED}` : pair;
    });
  return `${url.slice(0, query + 1)}${params.join('&')}`;
}

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name; // Malformed escapes: the raw name is what the server would see too.
  }
}

/**
 * The logger a Fastify app of ticks logs requests with: Fastify's request serializer with the
 * URL's credentials redacted, and Authorization and Cookie headers censored wherever a log line
 * carries a request's headers.
 */
export function requestLogger(logger: Logger): Logger {
  return logger.child(
    {},
    {
      serializers: {
        req: (request: FastifyRequest) => ({
          method: request.method,
          url: withoutCredentials(request.url),
          host: request.host,
          remoteAddress: request.ip,
          remotePort: request.socket?.remotePort,
        }),
      },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'headers.authorization',
          'headers.cookie',
          'request.headers.authorization',
          'request.headers.cookie',
        ],
        censor: REDACTED,
      },
    },
  );
}
