/**
 * The caller is not authenticated: no token, a malformed header, or a token that is not valid
 * (the message says which). Each front end maps it its own way: the API to HTTP 401, the push
 * gateway to a refused upgrade or a close code.
 */
export class AuthError extends Error {
  override readonly name = 'AuthError';
}
