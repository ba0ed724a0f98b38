import {
  FallbackReceiptDetails,
  type ReceiptDetailsLookup,
  type ReceiptDetailsSource,
} from './receipt-details-source';

const source = (
  name: string,
  answer: ReceiptDetailsLookup,
): ReceiptDetailsSource & { asked: number } => ({
  name,
  asked: 0,
  async lookup() {
    this.asked++;
    return answer;
  },
});
const query = { conversationId: 'c', messageId: 'm', viewer: 'u' };
const found: ReceiptDetailsLookup = {
  status: 'found',
  message: { seq: 1, senderId: 's', sentAt: 1 },
  recipients: [],
};

describe('FallbackReceiptDetails', () => {
  it('asks the durable source only when the hot one does not know the message', async () => {
    const hot = source('redis', found);
    const durable = source('cassandra', found);
    expect(await new FallbackReceiptDetails(hot, durable).lookup(query)).toBe(found);
    expect(durable.asked).toBe(0);
    const expired = source('redis', { status: 'no_conversation' });
    expect(await new FallbackReceiptDetails(expired, durable).lookup(query)).toBe(found);
    expect(durable.asked).toBe(1);
  });

  it('a non-member stops at the first source that knows the conversation', async () => {
    const durable = source('cassandra', found);
    const answer = await new FallbackReceiptDetails(
      source('redis', { status: 'not_member' }),
      durable,
    ).lookup(query);
    expect(answer).toEqual({ status: 'not_member' });
    expect(durable.asked).toBe(0);
  });

  it('keeps the most precise "not found"', async () => {
    const answer = await new FallbackReceiptDetails(
      source('redis', { status: 'no_message' }),
      source('cassandra', { status: 'no_conversation' }),
    ).lookup(query);
    expect(answer).toEqual({ status: 'no_message' });
  });
});
