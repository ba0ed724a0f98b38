import { TypeName, type GroupSenderSummary, type ReceiptUpdate } from '../schemas/types';
import { toPushMessage } from './push-message';

const envelope = { update_id: 'u1', user_id: 'ana', version: 7, source_event_at: 1, emitted_at: 2 };
const summary: GroupSenderSummary = {
  conversation_id: 'g',
  messages: [
    { message_id: 'm5', seq: 5, status: 'READ', read_count: 2, delivered_count: 3, total: 4 },
    { message_id: 'm2', seq: 2, status: 'DELIVERED', read_count: 0, delivered_count: 4, total: 4 },
  ],
  window_start: 2000,
  window_end: 4000,
};

describe('toPushMessage: group summaries', () => {
  it('pushes one frame per sender summary, its messages as they came', () => {
    const update: ReceiptUpdate = {
      ...envelope,
      payload: { [TypeName.GroupSenderSummary]: summary },
    };
    expect(toPushMessage(update)).toEqual({
      type: 'group_sender_summary',
      update_id: 'u1',
      version: 7,
      source_event_at: 1,
      emitted_at: 2,
      ...summary,
    });
  });

  it('pushes a single-message GroupSummary of an earlier build in the same shape', () => {
    const legacy: ReceiptUpdate = {
      ...envelope,
      payload: {
        [TypeName.GroupSummary]: {
          conversation_id: 'g',
          message_id: 'm5',
          seq: 5,
          status: 'READ',
          read_count: 2,
          delivered_count: 3,
          total: 4,
          window_start: 2000,
          window_end: 4000,
        },
      },
    };
    expect(toPushMessage(legacy)).toMatchObject({
      type: 'group_sender_summary',
      conversation_id: 'g',
      messages: [summary.messages[0]],
      window_start: 2000,
      window_end: 4000,
    });
  });

  it('keeps both shapes apart inside an offline batch', () => {
    const batch: ReceiptUpdate = {
      ...envelope,
      payload: {
        [TypeName.OfflineBatch]: { updates: [{ [TypeName.GroupSenderSummary]: summary }] },
      },
    };
    expect(toPushMessage(batch)).toMatchObject({
      type: 'offline_batch',
      updates: [{ type: 'group_sender_summary', messages: summary.messages }],
    });
  });
});
