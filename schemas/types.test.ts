import * as avro from 'avsc';
import { schemaCatalog } from './schema-catalog';
import {
  CONVERSATION_KINDS,
  DEAD_LETTER_REASONS,
  PRESENCE_STATUSES,
  RECEIPT_STATUSES,
  TypeName,
  branchOf,
  type ConversationEventPayload,
} from './types';

const catalog = schemaCatalog();

describe('types.ts', () => {
  it('names every type of the catalog, and only those', () => {
    expect(Object.values(TypeName).sort()).toEqual(catalog.names().sort());
  });

  it.each([
    [TypeName.ConversationKind, CONVERSATION_KINDS],
    [TypeName.PresenceStatus, PRESENCE_STATUSES],
    [TypeName.ReceiptStatus, RECEIPT_STATUSES],
    [TypeName.DeadLetterReason, DEAD_LETTER_REASONS],
  ])('lists the symbols of %s in order', (name, symbols) => {
    const type = avro.Type.forSchema(catalog.compose(name) as avro.Schema) as avro.types.EnumType;
    expect(type.symbols).toEqual([...symbols]);
  });
});

describe('branchOf', () => {
  it('names the record a wrapped union holds, built by hand or decoded by avsc', () => {
    const built: ConversationEventPayload = {
      [TypeName.MemberRemoved]: { user_id: 'u1', removed_at: 1 },
    };
    expect(branchOf(built)).toBe('dev.ticks.MemberRemoved');

    const type = catalog.type('conversationEvents');
    const decoded = type.fromBuffer(
      type.toBuffer({ event_id: 'e', conversation_id: 'c', occurred_at: 0, payload: built }),
    ) as { payload: ConversationEventPayload };
    expect(branchOf(decoded.payload)).toBe('dev.ticks.MemberRemoved');
  });

  it('refuses an object with no key', () => {
    expect(() => branchOf({})).toThrow(TypeError);
  });
});
