import { randomUUID } from 'node:crypto';
import type { ReceiptEvent } from '../../schemas/types';
import type { EventPublisher } from '../../runtime/event-publisher';
import { KafkaSendTimeoutError } from '../../runtime/kafka/errors';
import type { Principal } from '../../auth/token-service';
import { ForbiddenError, UnavailableError } from '../api-errors';

/** Whether a user is a member of a conversation (as the pipeline last applied). */
export type IsMember = (conversationId: string, userId: string) => Promise<boolean>;

/**
 * Only members report receipts (as only members read a message's receipts): a non-member's
 * receipt would be held by the pipeline for nothing, and anyone could flood a conversation.
 */
export async function member(
  o: { isMember: IsMember },
  caller: Principal,
  conversationId: string,
): Promise<void> {
  if (!(await o.isMember(conversationId, caller.userId)))
    throw new ForbiddenError(`you are not a member of conversation ${conversationId}`);
}

/** The token's device, else the X-Device-Id header, else "api". */
function deviceOf(caller: Principal, headers: Record<string, unknown>): string {
  if (caller.deviceId) return caller.deviceId;
  const header = headers['x-device-id'];
  if (typeof header === 'string' && /^[^\s]{1,200}$/.test(header)) return header;
  return 'api';
}

export async function produce(
  publisher: EventPublisher,
  caller: Principal,
  headers: Record<string, unknown>,
  conversationId: string,
  payload: ReceiptEvent['payload'],
): Promise<string> {
  const event: ReceiptEvent = {
    event_id: randomUUID(),
    conversation_id: conversationId,
    user_id: caller.userId,
    device_id: deviceOf(caller, headers),
    occurred_at: Date.now(),
    payload,
  };
  try {
    await publisher.encoded('receiptEvents', conversationId, event).flush();
  } catch (err) {
    // Names what failed, not where it runs: the brokers' addresses stay in the server's log.
    const what =
      err instanceof KafkaSendTimeoutError
        ? `Kafka did not acknowledge the receipt event within ${err.timeoutMs} ms`
        : `producing the receipt event failed (${err instanceof Error ? err.name : 'error'})`;
    throw new UnavailableError(
      `the receipt could not be recorded: ${what}; retry after the Retry-After delay`,
      { cause: err },
    );
  }
  return event.event_id;
}
