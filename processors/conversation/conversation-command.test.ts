import { TypeName, type ConversationEvent } from '../../schemas/types';
import { toConversationCommand } from './conversation-command';

const sent = (sentAt: number, conversationId = 'c'): ConversationEvent => ({
  event_id: 'e',
  conversation_id: conversationId,
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

  // The state marks badge sources with byte 0x01 beside a user's conversations: a conversation id
  // beginning with it would be read back as a source.
  it.each(['\u0001g-1', 'g\u0000', 'a\nb', 'x\u007f'])(
    'refuses a conversation id with a control character (%j)',
    (id) => {
      expect(toConversationCommand(sent(0, id), Buffer.from(id))).toEqual({
        reason: 'INVALID_FIELDS',
        detail: 'conversation_id contains a control character (U+0000–U+001F or U+007F)',
      });
    },
  );

  it.each(['g-1', 'grüße-✓', 'a b'])('takes the conversation id %j', (id) => {
    expect(toConversationCommand(sent(0, id), Buffer.from(id))).toMatchObject({
      command: { type: 'message' },
    });
  });
});
