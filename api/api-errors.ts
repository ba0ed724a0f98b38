/**
 * Errors the API answers with, each with its HTTP status and a stable machine-readable code;
 * the body is always {error, message}.
 */
export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class UnauthorizedError extends ApiError {
  override readonly name = 'UnauthorizedError';
  constructor(message: string) {
    super(401, 'unauthorized', message);
  }
}

export class ForbiddenError extends ApiError {
  override readonly name = 'ForbiddenError';
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

export class NotFoundError extends ApiError {
  override readonly name = 'NotFoundError';
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

export class UnprocessableError extends ApiError {
  override readonly name = 'UnprocessableError';
  constructor(message: string) {
    super(422, 'invalid_request', message);
  }
}

/** The caller made more requests than its rate allows; Retry-After says when to try again. */
export class TooManyRequestsError extends ApiError {
  override readonly name = 'TooManyRequestsError';
  constructor(message: string) {
    super(429, 'rate_limited', message);
  }
}

/** Seconds a client is told to wait (Retry-After) before retrying after a 503. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

/** A dependency (Kafka, Redis) failed; the client may retry after `retryAfterSeconds`. */
export class UnavailableError extends ApiError {
  override readonly name = 'UnavailableError';
  readonly retriable = true;
  readonly retryAfterSeconds: number;
  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(503, 'unavailable', message);
    if (options?.cause !== undefined) this.cause = options.cause;
    this.retryAfterSeconds = options?.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  }
}
