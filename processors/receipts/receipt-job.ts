import type { ReceiptCommand } from '../../stores/redis/conversation-store';
import type { InboundRecord } from '../../runtime/kafka/types';

/** A receipt ready to apply: fresh from the topic, or held earlier and tried again. */
export interface ReceiptJob {
  conversationId: string;
  userId: string;
  deviceId: string;
  occurredAt: number;
  command: ReceiptCommand;
  /** Offset of the receipt record: the version of the updates it causes. */
  version: number;
  record: InboundRecord;
  /** When a held receipt gives up and goes to the dead letters. */
  deadline: number;
  /** The held entry (its exact member string) when this job was held before. */
  heldAs?: string;
}
