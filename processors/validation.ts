import type { DeadLetterReason } from '../schemas/types';

/** Why an event cannot be processed, as it will read in the dead-letter record. */
export interface Rejection {
  reason: Extract<DeadLetterReason, 'INVALID_FIELDS' | 'OVERSIZED_BATCH'>;
  detail: string;
}

export const MAX_ID_LENGTH = 200;

/** Whether `value` holds a C0 control character or DEL: never part of an id. */
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * Checks an id field; returns a problem description or null. An id has no control character:
 * the state keeps a user's badge sources beside their conversations, marked by byte 0x01
 * (stores/redis/badge-entries.ts), and an id beginning with it would be read as a source.
 */
export function idProblem(field: string, value: string): string | null {
  if (value.length === 0) return `${field} is empty`;
  if (value.length > MAX_ID_LENGTH) return `${field} is longer than ${MAX_ID_LENGTH} characters`;
  if (hasControlCharacter(value))
    return `${field} contains a control character (U+0000–U+001F or U+007F)`;
  return null;
}

/** Seqs are positive integers below 2^53 (JavaScript and Lua read them exactly). */
export function seqProblem(field: string, value: number): string | null {
  if (!Number.isSafeInteger(value) || value < 1)
    return `${field} must be an integer between 1 and 2^53-1, got ${value}`;
  return null;
}

/**
 * Times are epoch milliseconds, never before 1970: the state keeps them as digits only, and a
 * negative one would be stored where no rule can read it back (half a message).
 */
export function timeProblem(field: string, value: number): string | null {
  if (!Number.isSafeInteger(value) || value < 0)
    return `${field} must be epoch milliseconds between 0 and 2^53-1, got ${value}`;
  return null;
}

/** The record key must be the conversation id, or the event sits on another process's partition. */
export function keyProblem(key: Buffer | null, conversationId: string): string | null {
  if (key === null) return 'record key is missing (must be the conversation_id)';
  if (key.toString('utf8') !== conversationId) return 'record key does not match conversation_id';
  return null;
}

export function firstProblem(...problems: Array<string | null>): string | null {
  for (const p of problems) if (p) return p;
  return null;
}
