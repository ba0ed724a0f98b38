import type { FastifyInstance } from 'fastify';
import { TokenService } from '../auth/token-service';
import { capturedLogger } from '../tests/support/captured-logger';
import { buildApiApp } from './api-app';

describe('request logs of the API app', () => {
  const tokens = new TokenService({
    secret: 's'.repeat(40),
    ttlSeconds: 600,
    maxLifetimeSeconds: 600,
  });
  const token = tokens.issue('ana', 'phone');
  let app: FastifyInstance;
  let lines: string[];
  let base: string;
  // A real socket: light-my-request's inject needs an ESM dependency jest does not load.
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${base}${path}`, { headers });
    return { status: response.status, body: await response.text() };
  };

  beforeAll(async () => {
    const captured = capturedLogger();
    lines = captured.lines;
    app = await buildApiApp({
      logger: captured.logger,
      tokens,
      publisher: () => {
        throw new Error('not used');
      },
      readModel: {} as never,
      receiptDetails: {} as never,
      sharesReads: () => true,
      settings: {} as never,
      maxBodyBytes: 4096,
      maxDeliveredBatch: 10,
      rateLimitPerMinute: 1000,
      extensions: [
        async (a) => {
          a.get('/boom', async () => {
            throw new Error('boom');
          });
          // A route that logs the request's headers, as a debugging aid might.
          a.get('/echo', async (request) => {
            request.log.info({ headers: request.headers }, 'headers');
            return {};
          });
        },
      ],
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await app?.close();
  });

  it('hold no token from a query string, an Authorization header or an error, at info level', async () => {
    // The WebSocket's query-string token (the route is the gateway's; here it answers 404).
    await get(`/v1/updates?access_token=${token}&device=d1`);
    await get(`/v1/me/unread?limit=5&token=${token}`);
    await get('/v1/me/unread', { authorization: `Bearer ${token}` });
    await get(`/boom?access_token=${token}`);
    await get('/echo', { authorization: `Bearer ${token}`, cookie: 'sid=1' });

    const log = lines.join('\n');
    expect(lines.length).toBeGreaterThan(8);
    expect(log).not.toContain(token);
    expect(log).not.toContain(token.split('.')[2]!); // not even the signature
    expect(log).toContain('/v1/updates?access_token=[REDACTED]&device=d1');
    expect(log).toContain('/v1/me/unread?limit=5&token=[REDACTED]');
    const failed = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request failed')
      .map((l) => l.url);
    expect(failed).toContain('/boom?access_token=[REDACTED]');
    const headers = lines
      .map((l) => JSON.parse(l) as { msg?: string; headers?: Record<string, string> })
      .find((l) => l.msg === 'headers');
    expect(headers?.headers).toMatchObject({
      authorization: '[REDACTED]',
      cookie: '[REDACTED]',
    });
  });

  it('does not echo a query-string token in a 404 body', async () => {
    const answer = await get(`/nowhere?access_token=${token}`);
    expect(answer.status).toBe(404);
    expect(answer.body).not.toContain(token);
  });
});
