/**
 * How a value that holds a secret is shown in a message (a configuration problem, a connection
 * error): error lines end up in terminals, CI logs and log stores.
 */

/** A secret: never shown, only its length (what a "too short" problem needs). */
export function hiddenSecret(raw: string): string {
  return `<hidden, ${raw.length} characters>`;
}

/**
 * A URL with its credentials (`scheme://user:password@host`, `redis://:password@host`) replaced by
 * `***`: everything before the last `@` but the scheme, so that it also holds for text that does
 * not parse as a URL (which is when a problem shows it) and for passwords with `:` or `@`.
 */
export function withoutPassword(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/*)?.*@/is, '$1***@');
}
