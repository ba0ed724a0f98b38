import type { UnreadCursor } from '../stores/redis/read-model';
import { UnprocessableError } from './api-errors';

/** The API's cursor: opaque to clients (base64url of [last_at, conversation_id]). */
export function encodeCursor(cursor: UnreadCursor): string {
  return Buffer.from(JSON.stringify([cursor.lastAt, cursor.conversationId])).toString('base64url');
}

/** A cursor this API gave; UnprocessableError (422) for anything else. */
export function decodeCursor(text: string): UnreadCursor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (
    Array.isArray(value) &&
    value.length === 2 &&
    Number.isSafeInteger(value[0]) &&
    (value[0] as number) >= 0 &&
    typeof value[1] === 'string' &&
    value[1].length > 0
  )
    return { lastAt: value[0] as number, conversationId: value[1] };
  throw new UnprocessableError(
    'cursor is not one this API gave: pass the next_cursor of the previous page as it is',
  );
}
