import { TypeName } from '../../schemas/types';
import { lineEventId, parseBackfillLine } from './backfill-line';

const parse = (line: unknown) =>
  parseBackfillLine(typeof line === 'string' ? line : JSON.stringify(line), 1000);
const AT = '2026-05-01T10:00:00Z';
const AT_MS = Date.parse(AT);

describe('parseBackfillLine', () => {
  it('turns a message into a conversation event keyed by its conversation', () => {
    const parsed = parse({
      type: 'message_sent',
      conversation_id: 'c1',
      message_id: 'm1',
      seq: 1,
      sender_id: 'ana',
      kind: 'DIRECT',
      at: AT,
    });
    expect(parsed).toEqual({
      kind: 'event',
      type: 'message_sent',
      event: {
        role: 'conversationEvents',
        key: 'c1',
        value: {
          event_id: expect.any(String),
          conversation_id: 'c1',
          occurred_at: AT_MS,
          payload: {
            [TypeName.MessageSent]: {
              message_id: 'm1',
              seq: 1,
              sender_id: 'ana',
              kind: 'DIRECT',
              sent_at: AT_MS,
            },
          },
        },
      },
    });
  });

  it('turns reads, deliveries and settings into their events, epoch ms accepted', () => {
    const read = parse({
      type: 'read',
      conversation_id: 'c1',
      user_id: 'bo',
      message_id: 'm1',
      at: 5,
    });
    expect(read).toMatchObject({
      event: {
        role: 'receiptEvents',
        value: {
          device_id: 'backfill',
          occurred_at: 5,
          payload: { [TypeName.ReadUpTo]: { seq: null, message_id: 'm1' } },
        },
      },
    });
    const delivered = parse({
      type: 'delivered',
      conversation_id: 'c1',
      user_id: 'bo',
      up_to_seq: 3,
      device_id: 'phone',
      at: AT,
    });
    expect(delivered).toMatchObject({
      event: { value: { payload: { [TypeName.Delivered]: { up_to_seq: 3, message_ids: null } } } },
    });
    expect(
      parse({ type: 'settings', user_id: 'bo', read_receipts_enabled: false, at: AT }),
    ).toMatchObject({
      event: { role: 'userSettings', key: 'bo', value: { read_receipts_enabled: false } },
    });
  });

  it('parses deletions, mark-as-unread and mutes (issue 14)', () => {
    expect(
      parse({
        type: 'message_deleted',
        conversation_id: 'c1',
        message_id: 'm1',
        deleted_by: 'ana',
        at: AT,
      }),
    ).toMatchObject({
      event: {
        role: 'conversationEvents',
        key: 'c1',
        value: {
          payload: {
            [TypeName.MessageDeleted]: {
              message_id: 'm1',
              deleted_by: 'ana',
              deleted_at: Date.parse(AT),
            },
          },
        },
      },
    });
    expect(
      parse({ type: 'marked_unread', conversation_id: 'c1', user_id: 'bo', at: AT }),
    ).toMatchObject({
      event: {
        role: 'receiptEvents',
        value: { user_id: 'bo', device_id: 'backfill', payload: { [TypeName.MarkedUnread]: {} } },
      },
    });
    expect(
      parse({
        type: 'settings',
        user_id: 'bo',
        read_receipts_enabled: true,
        muted_conversations: [
          { conversation_id: 'c1', until: '2026-05-01T11:00:00Z' },
          { conversation_id: 'c2' },
        ],
        at: AT,
      }),
    ).toMatchObject({
      event: {
        value: {
          muted_conversations: [
            { conversation_id: 'c1', until: Date.parse('2026-05-01T11:00:00Z') },
            { conversation_id: 'c2', until: null },
          ],
        },
      },
    });
    expect(
      parse({
        type: 'message_deleted',
        conversation_id: 'c1',
        message_id: '',
        deleted_by: 'a',
        at: AT,
      }),
    ).toMatchObject({ kind: 'reject', error: expect.stringMatching(/message_id/) });
    expect(
      parse({
        type: 'settings',
        user_id: 'bo',
        read_receipts_enabled: true,
        muted_conversations: [{ conversation_id: 'c1', until: 'soon' }],
        at: AT,
      }),
    ).toMatchObject({ kind: 'reject', error: expect.stringMatching(/until/) });
  });

  it('derives a stable event id, or keeps the one given', () => {
    const line = JSON.stringify({
      type: 'member_removed',
      conversation_id: 'c1',
      user_id: 'u',
      at: AT,
    });
    const a = parse(line);
    const b = parse(line);
    expect(a.kind === 'event' && b.kind === 'event' && a.event.value).toEqual(
      b.kind === 'event' && b.event.value,
    );
    expect(lineEventId(line)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const id = '6f1c3b9e-1d2a-4c3b-9a8e-2f4d5c6b7a80';
    expect(
      parse({ type: 'member_removed', conversation_id: 'c1', user_id: 'u', at: AT, event_id: id }),
    ).toMatchObject({
      event: { value: { event_id: id } },
    });
  });

  it.each(['', '   ', '# a comment'])('skips %p', (line) => {
    expect(parse(line)).toEqual({ kind: 'skip' });
  });

  it.each([
    ['{not json', /^not JSON/],
    ['[1,2]', /not a JSON object/],
    [{ conversation_id: 'c1' }, /missing "type": one of member_added/],
    [{ type: 'typing', conversation_id: 'c1' }, /unknown type "typing"/],
    [{ type: 'member_added', conversation_id: 'c1', user_id: 'u', at: AT }, /kind/],
    [{ type: 'member_added', conversation_id: 'c1', user_id: 'u', kind: 'CROWD', at: AT }, /kind/],
    [
      { type: 'member_removed', conversation_id: 'c1', user_id: 'u', at: 'yesterday' },
      /at: .*ISO-8601/,
    ],
    [
      { type: 'member_removed', conversation_id: 'c1', user_id: 'u', at: AT, colour: 1 },
      /unknown field\(s\) colour/,
    ],
    [
      {
        type: 'message_sent',
        conversation_id: 'c1',
        message_id: 'm',
        seq: 0,
        sender_id: 'a',
        kind: 'GROUP',
        at: AT,
      },
      /seq must be an integer between 1 and 2\^53-1, got 0/,
    ],
    [
      {
        type: 'message_sent',
        conversation_id: '',
        message_id: 'm',
        seq: 1,
        sender_id: 'a',
        kind: 'GROUP',
        at: AT,
      },
      /conversation_id is empty/,
    ],
    [
      { type: 'read', conversation_id: 'c1', user_id: 'u', at: AT },
      /exactly one of seq and message_id/,
    ],
    [
      { type: 'delivered', conversation_id: 'c1', user_id: 'u', message_ids: [], at: AT },
      /message_ids is empty/,
    ],
    [
      {
        type: 'delivered',
        conversation_id: 'c1',
        user_id: 'u',
        message_ids: Array(1001).fill('m'),
        at: AT,
      },
      /limit is 1000/,
    ],
  ])('rejects %p with a reason', (line, reason) => {
    const parsed = parse(line);
    expect(parsed.kind).toBe('reject');
    expect(parsed.kind === 'reject' && parsed.error).toMatch(reason);
  });
});
