import { TypeName, type ConversationEvent } from '../../schemas/types';
import { toConversationCommand } from './conversation-command';

const sent = (sentAt: number): ConversationEvent => ({
  event_id: 'e',
  conversation_id: 'c',
  occurred_at: 0,
  payload: {
    [TypeName.MessageSent]: {
      message_id: 'm',
      seq: 1,
      sender_id: 'ana',
      kind: 'GROUP',
      sent_at: sentAt,
    },
  },
});

describe('toConversationCommand', () => {
  it.each([-1, -1_700_000_000_000, 2 ** 53])(
    'refuses a MessageSent with sent_at %p (INVALID_FIELDS, saying why)',
    (sentAt) => {
      expect(toConversationCommand(sent(sentAt), Buffer.from('c'))).toEqual({
        reason: 'INVALID_FIELDS',
        detail: `sent_at must be epoch milliseconds between 0 and 2^53-1, got ${sentAt}`,
      });
    },
  );

  it.each([0, 1_700_000_000_000])('takes sent_at %p', (sentAt) => {
    expect(toConversationCommand(sent(sentAt), Buffer.from('c'))).toMatchObject({
      command: { type: 'message', message: { sentAt } },
    });
  });
});
