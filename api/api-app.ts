import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ReceiptDetailsSource } from '../stores/receipt-details-source';
import type { ReadModel } from '../stores/redis/read-model';
import type { EventPublisher } from '../runtime/event-publisher';
import { alwaysHealthy, HEALTH_PATHS, type ProcessHealth } from '../runtime/health';
import { ApiError, TooManyRequestsError, UnauthorizedError, UnavailableError } from './api-errors';
import { AuthError } from '../auth/auth-error';
import { authenticate, principalOf } from '../auth/authenticate';
import { requestLogger, withoutCredentials } from '../auth/request-log';
import type { TokenService } from '../auth/token-service';
import { receiptRoutes } from './routes/receipt-routes';
import { unreadRoutes } from './routes/unread-routes';
import { conversationRoutes, type UserSettingsView } from './routes/conversation-routes';
import { ErrorBody } from './schemas';

export interface ApiAppOptions {
  logger: Logger;
  tokens: TokenService;
  publisher(): EventPublisher;
  readModel: ReadModel;
  receiptDetails: ReceiptDetailsSource;
  sharesReads(userId: string): boolean;
  /** The user_settings table: mutes (read by the unread answer, written by PUT …/mute). */
  settings: UserSettingsView & {
    mutedConversations(userId: string, now: number): Map<string, number | null>;
  };
  maxBodyBytes: number;
  maxDeliveredBatch: number;
  /** Requests one user may make to /v1 per minute (per process). */
  rateLimitPerMinute: number;
  /** What /livez, /readyz and /healthz answer; without it, always live and ready. */
  health?: ProcessHealth;
  /** Registers @fastify/websocket first, for a gateway route added by `extensions`. */
  websocket?: boolean;
  /** More routes in the same server (the push gateway, the demo). */
  extensions?: Array<(app: FastifyInstance) => Promise<void>>;
}

/**
 * The query API as a Fastify app: bearer-authenticated /v1 routes validated by JSON schemas, an
 * OpenAPI 3 document at /openapi.json made from the same schemas, and errors as {error, message}.
 */
export async function buildApiApp(options: ApiAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // Request logs (the gateway's and the demo's routes are in this app too) carry no tokens.
    loggerInstance: requestLogger(options.logger) as FastifyBaseLogger,
    bodyLimit: options.maxBodyBytes,
    // Reject unknown fields (422) rather than silently dropping them.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'ticks query API',
        description:
          'Report delivered/read receipts (produced as events; the pipeline applies them), mark conversations unread and mute them, and read unread counts, the unread-senders badge and receipt details (a deleted message answers 404). Push: the WebSocket gateway at /v1/updates.',
        version: '1',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description:
              'HS256 JWT signed with TICKS_AUTH_SECRET: sub (user id), optional dev (device id), iss "ticks", iat (not in the future) and exp at most TICKS_AUTH_MAX_TOKEN_LIFETIME_SECONDS after iat. The WebSocket at /v1/updates also takes it as ?access_token= and closes with 4401 "token expired" when it expires.',
          },
        },
      },
    },
  });
  app.addSchema(ErrorBody);
  if (options.websocket) await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { status, body, headers } = errorAnswer(error, options.maxBodyBytes);
    if (status >= 500)
      request.log.error({ err: error, url: withoutCredentials(request.url) }, 'request failed');
    return reply
      .code(status)
      .headers(headers ?? {})
      .send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: 'not_found',
      message: `no route ${request.method} ${withoutCredentials(request.url)}`,
    }),
  );

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  const health = options.health ?? alwaysHealthy();
  for (const [path, probe] of Object.entries(HEALTH_PATHS))
    app.get(path, { schema: { hide: true } }, async (_request, reply) => {
      const report = await probe(health);
      return reply.code(report.ok ? 200 : 503).send(report);
    });

  await app.register(async (v1) => {
    v1.addHook('onRequest', authenticate(options.tokens));
    // Per user (known once authenticated), so one client cannot flood the pipeline or Redis.
    await v1.register(rateLimit, {
      hook: 'preHandler',
      max: options.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request) => principalOf(request).userId,
      errorResponseBuilder: (_request, context) =>
        new TooManyRequestsError(
          `more than ${context.max} requests a minute (TICKS_API_RATE_LIMIT_PER_MINUTE); retry in ${Math.ceil(context.ttl / 1000)} s`,
        ),
    });
    await v1.register(receiptRoutes, {
      publisher: options.publisher,
      isMember: (conversationId, userId) => options.readModel.isMember(conversationId, userId),
      receiptDetails: options.receiptDetails,
      sharesReads: options.sharesReads,
      maxDeliveredBatch: options.maxDeliveredBatch,
    });
    await v1.register(unreadRoutes, {
      readModel: options.readModel,
      mutedConversations: (userId, now) => options.settings.mutedConversations(userId, now),
    });
    await v1.register(conversationRoutes, {
      publisher: options.publisher,
      isMember: (conversationId, userId) => options.readModel.isMember(conversationId, userId),
      settings: options.settings,
    });
  });
  for (const extension of options.extensions ?? []) await app.register(extension);
  return app;
}

/** Maps any error to the status, {error, message} body and headers the API answers with. */
export function errorAnswer(
  error: FastifyError,
  maxBodyBytes: number,
): { status: number; body: { error: string; message: string }; headers?: Record<string, string> } {
  // Authentication sits below the API: its failures become the API's 401.
  const answered: Error = error instanceof AuthError ? new UnauthorizedError(error.message) : error;
  if (answered instanceof ApiError)
    return {
      status: answered.statusCode,
      body: { error: answered.code, message: answered.message },
      // A 503 says when to try again.
      headers:
        answered instanceof UnavailableError
          ? { 'Retry-After': String(answered.retryAfterSeconds) }
          : undefined,
    };
  if (error.validation)
    return { status: 422, body: { error: 'invalid_request', message: error.message } };
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        body: {
          error: 'payload_too_large',
          message: `the request body is larger than ${maxBodyBytes} bytes (TICKS_API_MAX_BODY_BYTES)`,
        },
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        body: { error: 'unsupported_media_type', message: 'send application/json' },
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 422, body: { error: 'invalid_request', message: 'the body is empty' } };
  }
  if (error.statusCode === 400)
    return { status: 400, body: { error: 'malformed_json', message: error.message } };
  if (error.statusCode !== undefined && error.statusCode < 500)
    return { status: error.statusCode, body: { error: 'bad_request', message: error.message } };
  return { status: 500, body: { error: 'internal', message: 'internal error' } };
}
