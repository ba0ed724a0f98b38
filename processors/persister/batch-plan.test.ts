import { TypeName, type StateChange } from '../../schemas/types';
import { DurableStatements, type Statement } from '../../stores/cassandra/durable-statements';
import { lookupsFor, planBatch, type LoggedChange, type PlanContext } from './batch-plan';

const statements = new DurableStatements(7_776_000);
let offset = 0;
const at = (n: number) => 1_700_000_000_000 + n;

function sent(c: string, seq: number, sender: string): LoggedChange {
  const change: StateChange = {
    conversation_id: c,
    source_offset: seq,
    change: {
      [TypeName.MessageSent]: {
        message_id: `${c}:${seq}`,
        seq,
        sender_id: sender,
        kind: 'GROUP',
        sent_at: at(seq),
      },
    },
  };
  return { position: offset++, change };
}
function added(c: string, user: string): LoggedChange {
  return {
    position: offset++,
    change: {
      conversation_id: c,
      source_offset: 0,
      change: { [TypeName.MemberAdded]: { user_id: user, kind: 'GROUP', added_at: at(0) } },
    },
  };
}
function removed(c: string, user: string): LoggedChange {
  return {
    position: offset++,
    change: {
      conversation_id: c,
      source_offset: 0,
      change: { [TypeName.MemberRemoved]: { user_id: user, removed_at: at(1) } },
    },
  };
}
function advanced(
  c: string,
  user: string,
  read: number,
  delivered: number,
  t: number,
): LoggedChange {
  return {
    position: offset++,
    change: {
      conversation_id: c,
      source_offset: 0,
      change: {
        [TypeName.WatermarkAdvanced]: {
          user_id: user,
          read_seq: read,
          delivered_seq: delivered,
          at: t,
        },
      },
    },
  };
}
function delivered(c: string, user: string, ids: string[], t: number): LoggedChange {
  return {
    position: offset++,
    change: {
      conversation_id: c,
      source_offset: 0,
      change: { [TypeName.MessagesDelivered]: { user_id: user, message_ids: ids, at: t } },
    },
  };
}

const of = (rows: Statement[], table: Statement['table']) => rows.filter((r) => r.table === table);
const nothingKnown: PlanContext = { known: () => undefined, joinSeq: () => undefined };
const knowing = (readSeq: number, deliveredSeq: number): PlanContext => ({
  known: () => ({ readSeq, deliveredSeq }),
  joinSeq: () => undefined,
});

describe('planBatch', () => {
  it('writes each message to the index and as the static part of its receipts', () => {
    const plan = planBatch([sent('c1', 1, 'a'), sent('c1', 2, 'b')], statements, nothingKnown);
    expect(of(plan.statements, 'messages').map((s) => s.params[1])).toEqual([1, 2]);
    expect(of(plan.statements, 'message_receipts')).toHaveLength(2);
  });

  it("writes a conversation's newest message once per batch, timestamped with its seq", () => {
    const plan = planBatch([sent('c1', 2, 'a'), sent('c1', 1, 'a')], statements, nothingKnown);
    const last = of(plan.statements, 'conversations').filter((s) => /last_seq/.test(s.query));
    expect(last).toHaveLength(1);
    expect(last[0]!.params.slice(0, 3)).toEqual([2, 2, 'c1:2']);
  });

  it("turns a send into the sender's watermark, coalesced later, without an advance row", () => {
    const plan = planBatch([sent('c1', 4, 'a')], statements, nothingKnown);
    expect(plan.watermarks).toEqual([
      { conversationId: 'c1', userId: 'a', readSeq: 4, deliveredSeq: 4, at: at(4) },
    ]);
    expect(of(plan.statements, 'read_advances')).toEqual([]);
    expect(of(plan.statements, 'members')[0]!.query).toMatch(/SET active = \?/);
  });

  it('merges the member changes of one key: the last one wins', () => {
    const plan = planBatch(
      [added('c1', 'u'), removed('c1', 'u'), sent('c1', 3, 'u')],
      statements,
      nothingKnown,
    );
    const rows = of(plan.statements, 'members');
    expect(rows).toHaveLength(1);
    // Removed (not listed any more), then active again by sending — as in Redis.
    expect(rows[0]!.query).toBe(
      'UPDATE members SET active = ?, listed = ?, added_at = ?, removed_at = ? WHERE conversation_id = ? AND user_id = ?',
    );
    expect(rows[0]!.params.slice(0, 2)).toEqual([true, false]);
  });

  it('looks up the join watermark of a possibly first join, with the seqs sent before it', () => {
    const changes = [sent('c1', 5, 'a'), added('c1', 'u'), sent('c1', 6, 'a'), added('c1', 'k')];
    const { joins, keys } = lookupsFor(changes, (_c, u) =>
      u === 'k' ? { readSeq: 2, deliveredSeq: 2 } : undefined,
    );
    expect(joins).toEqual([
      expect.objectContaining({ conversationId: 'c1', userId: 'u', precedingSeq: 5 }),
    ]);
    expect(keys).toEqual([{ conversationId: 'c1', userId: 'u' }]);
  });

  it("writes a first join's watermark conditionally, and counts it as known afterwards", () => {
    const plan = planBatch([added('c1', 'u'), advanced('c1', 'u', 4, 4, 100)], statements, {
      known: () => undefined,
      joinSeq: () => 4,
    });
    const joins = of(plan.statements, 'member_joins');
    expect(joins).toHaveLength(1);
    expect(joins[0]!.conditional).toBe(true);
    expect(joins[0]!.params.slice(0, 3)).toEqual(['c1', 'u', 4]);
    // A read up to the join seq moves nothing: no advance row (Redis logs none either).
    expect(of(plan.statements, 'read_advances')).toEqual([]);
  });

  it('writes no join watermark when the member already has one (sent before joining)', () => {
    const plan = planBatch([sent('c1', 5, 'u'), added('c1', 'u')], statements, {
      known: () => undefined,
      joinSeq: () => 3,
    });
    expect(of(plan.statements, 'member_joins')).toEqual([]);
  });

  it('logs a read advance only when the read watermark moved', () => {
    const plan = planBatch(
      [
        advanced('c1', 'u', 3, 8, 100), // delivered up to 8: a delivered advance
        advanced('c1', 'u', 6, 8, 200), // read up to 6: a read advance
        advanced('c1', 'u', 6, 8, 300), // nothing moved (a duplicate)
      ],
      statements,
      knowing(3, 5),
    );
    expect(of(plan.statements, 'delivered_advances').map((s) => s.params.slice(2, 3))).toEqual([
      [8],
    ]);
    expect(of(plan.statements, 'read_advances').map((s) => s.params.slice(2, 3))).toEqual([[6]]);
    expect(plan.watermarks).toHaveLength(3);
  });

  it('logs both advances when it does not know the previous watermarks', () => {
    const plan = planBatch([advanced('c1', 'u', 3, 8, 100)], statements, nothingKnown);
    expect(of(plan.statements, 'read_advances')).toHaveLength(1);
    expect(of(plan.statements, 'delivered_advances')).toHaveLength(1);
  });

  it('writes one row per message delivered by id, the first delivery winning', () => {
    const plan = planBatch(
      [delivered('c1', 'u', ['m1', 'm2'], 100), delivered('c1', 'u', ['m2'], 200)],
      statements,
      nothingKnown,
    );
    const rows = of(plan.statements, 'message_receipts');
    expect(rows.map((r) => [r.params[1], (r.params[3] as Date).getTime()])).toEqual([
      ['m1', 100],
      ['m2', 100],
    ]);
  });
});
