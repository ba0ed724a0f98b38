import type { SentMessage } from '../../stores/redis/conversation-store';
import { MemberLog } from '../../stores/state/member-log';
import {
  commandsOf,
  expired,
  NOW,
  stateOf,
  stepAt,
  TTL,
} from '../../tests/support/engine-fixtures';
import { applyMessagesSent } from './messages-sent';

const msg = (seq: number, senderId: string, kind: 'DIRECT' | 'GROUP' = 'GROUP'): SentMessage => ({
  messageId: `m${seq}`,
  seq,
  senderId,
  kind,
  sentAt: 1000 + seq,
});

describe('applyMessagesSent', () => {
  it('knows a message above the conversation’s last seq has no deliveries by id (no read needed), and nothing of one at or below it', () => {
    // Loaded with m1..m3 (last_seq 3): a replay of m3, or a late m2b below it, may have
    // confirmations in Redis; m4 and m5 are new to Redis as well as to memory.
    const state = stateOf({
      kind: 'GROUP',
      members: ['ana', 'bo', 'cy'],
      messages: [
        ['m1', 1, 'ana'],
        ['m2', 2, 'bo'],
        ['m3', 3, 'cy'],
      ],
    });
    const late = { ...msg(2, 'cy'), messageId: 'm2b' };
    applyMessagesSent(state, [msg(3, 'cy'), late, msg(4, 'ana'), msg(5, 'bo')], stepAt());
    expect(state.deliveredBy('m3')).toBeUndefined();
    expect(state.deliveredBy('m2b')).toBeUndefined();
    expect([...state.deliveredBy('m4')!]).toEqual([]);
    // A confirmation of one fresh message is its own, not the other's.
    expect(state.markDelivered('m4', 'bo', '7')).toBe(true);
    expect([...state.deliveredBy('m4')!]).toEqual([['bo', '7']]);
    expect([...state.deliveredBy('m5')!]).toEqual([]);
    expect(state.markDelivered('m4', 'bo', '8')).toBe(false);
  });

  it('gives an unknown conversation the first message kind, and writes meta and the index', () => {
    const state = stateOf();
    const step = stepAt();
    const results = applyMessagesSent(
      state,
      [msg(1, 'ana', 'DIRECT'), msg(2, 'bo', 'GROUP')],
      step,
    );
    expect(results.map((r) => r.kind)).toEqual(['DIRECT', 'DIRECT']);
    expect([state.kind, state.lastSeq, state.lastAt]).toEqual(['DIRECT', 2, '1002']);
    expect(commandsOf(step)).toEqual(
      expect.arrayContaining([
        // The message index: one sorted set, '<bytes of id>:<id>|<sender>#<sent_at in base 36>'
        // by seq (1001 is 'rt').
        ['zadd', 'ix', '1', '2:m1|ana#rt', '2', '2:m2|bo#ru'],
        [
          'hset',
          'meta',
          // Members and the senders' watermarks are meta fields.
          'm:ana',
          '1',
          'm:bo',
          '1',
          'r:ana',
          '1',
          'd:ana',
          '1',
          'r:bo',
          '2',
          'd:bo',
          '2',
          'kind',
          'DIRECT',
          'lv', // created in today's layout: the index in one key, the logs in fields
          '4',
          'last_seq',
          '2',
          'last_at',
          '1002',
        ],
      ]),
    );
  });

  it('makes a sender a member from its first message of the run on, having read its own messages', () => {
    const state = stateOf({ kind: 'GROUP', members: ['reader'], read: { reader: 0 } });
    const results = applyMessagesSent(
      state,
      [msg(1, 'a'), msg(2, 'a'), msg(3, 'b'), msg(4, 'a'), msg(5, 'b')],
      stepAt(),
    );
    expect(results.map((r) => [r.lastSeq, r.senderCaughtUp, [...r.behind].sort()])).toEqual([
      [1, false, ['reader']], // a had nothing unread: nothing leaves a's badge
      [2, false, ['reader']],
      [3, true, ['a', 'reader']], // b had not read a's messages: sending reads them
      [4, true, ['b', 'reader']],
      [5, true, ['a', 'reader']],
    ]);
    expect(Object.fromEntries(state.read)).toEqual({ reader: 0, a: 4, b: 5 });
    expect(Object.fromEntries(state.dlvd)).toEqual({ a: 4, b: 5 });
  });

  it('lists every member of a direct chat (the peer), none of a group, joiners from their message on', () => {
    const direct = stateOf({ kind: 'DIRECT', members: ['ana'] });
    const [first, second] = applyMessagesSent(direct, [msg(1, 'ana'), msg(2, 'bo')], stepAt());
    expect(first!.members).toEqual(['ana']);
    expect([...second!.members].sort()).toEqual(['ana', 'bo']);
    const group = stateOf({ kind: 'GROUP', members: ['ana'] });
    expect(applyMessagesSent(group, [msg(1, 'ana')], stepAt())[0]!.members).toEqual([]);
  });

  it('keeps last_seq on a late message; the sender is then not at the end', () => {
    const state = stateOf({
      kind: 'GROUP',
      members: ['ana', 'bo'],
      read: { ana: 1, bo: 5 },
      messages: [
        ['m1', 1, 'ana'],
        ['m5', 5, 'bo'],
      ],
      touched: NOW,
    });
    const step = stepAt();
    const [late] = applyMessagesSent(state, [msg(3, 'ana')], step);
    expect(late).toMatchObject({ lastSeq: 5, senderCaughtUp: false, behind: [] });
    expect([state.lastSeq, state.lastAt]).toEqual([5, '1005']);
    expect(state.read.get('ana')).toBe(3);
    // Nothing new for meta but the sender's watermarks: last_seq stays.
    expect(commandsOf(step).filter((c) => c[1] === 'meta')).toEqual([
      ['hset', 'meta', 'r:ana', '3', 'd:ana', '3'],
    ]);
  });

  it("deletes an older build's last_msg with the next write of last_seq, not before", () => {
    const state = stateOf({
      kind: 'GROUP',
      members: ['ana'],
      messages: [['m5', 5, 'ana']],
      touched: NOW,
    });
    state.staleLastMsg = true; // loaded from a meta that holds it
    const late = stepAt();
    applyMessagesSent(state, [msg(3, 'ana')], late);
    expect(commandsOf(late).filter((c) => c[0] === 'hdel')).toEqual([]);
    const next = stepAt();
    applyMessagesSent(state, [msg(6, 'ana')], next);
    expect(commandsOf(next).filter((c) => c[1] === 'meta')).toContainEqual([
      'hdel',
      'meta',
      'last_msg',
    ]);
    expect(state.staleLastMsg).toBe(false);
    const after = stepAt();
    applyMessagesSent(state, [msg(7, 'ana')], after);
    expect(commandsOf(after).filter((c) => c[0] === 'hdel')).toEqual([]);
  });

  it('moves an id sent again to its new seq', () => {
    const state = stateOf({ kind: 'GROUP', members: ['ana'] });
    applyMessagesSent(
      state,
      [msg(1, 'ana'), { ...msg(3, 'ana'), messageId: 'm1' }, { ...msg(3, 'ana'), messageId: 'x' }],
      stepAt(),
    );
    expect([...state.indexed()]).toEqual([
      ['m1', 3],
      ['x', 3],
    ]);
    expect(state.lastSeq).toBe(3);
  });

  it('says whether receipts are held', () => {
    const state = stateOf({ kind: 'GROUP', hasHeld: true });
    expect(applyMessagesSent(state, [msg(1, 'ana')], stepAt())[0]!.hasHeld).toBe(true);
  });

  it('refreshes expiries when the conversation gets its first message, else hourly', () => {
    const known = () =>
      stateOf({
        kind: 'GROUP',
        members: ['ana'],
        read: { ana: 1 },
        messages: [['m1', 1, 'ana']],
        touched: NOW,
      });
    const soon = stepAt(NOW + (TTL * 1000) / 24 - 1);
    applyMessagesSent(known(), [msg(2, 'ana')], soon);
    expect(expired(soon)).toEqual([]);
    const anHourOn = stepAt(NOW + (TTL * 1000) / 24);
    applyMessagesSent(known(), [msg(2, 'ana')], anHourOn);
    expect(expired(anHourOn).sort()).toEqual(['ix', 'meta']);

    const firstMessage = stateOf({ kind: 'GROUP', members: ['ana'], touched: NOW });
    const step = stepAt(NOW + 1);
    applyMessagesSent(firstMessage, [msg(1, 'ana')], step);
    expect(expired(step)).toContain('ix');
  });

  it('moves an index loaded from msg and msgs (LOG_LAYOUT) into ix with its first write: whole, before meta names it, the old keys after', () => {
    const state = stateOf({
      kind: 'GROUP',
      members: ['ana', 'bo'],
      messages: [
        ['m1', 1, 'ana'],
        ['m2', 2, 'bo'],
      ],
      touched: NOW,
      indexIn: 'log',
    });
    const step = stepAt(NOW + 1);
    applyMessagesSent(state, [msg(3, 'ana')], step);
    const commands = commandsOf(step);
    const at = (c: unknown[]) => commands.findIndex((x) => JSON.stringify(x) === JSON.stringify(c));
    const ix = at(['zadd', 'ix', '1', '2:m1|ana#rt', '2', '2:m2|bo#ru', '3', '2:m3|ana#rv']);
    const layout = commands.findIndex((c) => c[1] === 'meta' && c.includes('lv'));
    // Today's layout: the logs (none here) moved into fields by the same write.
    expect(commands[layout]![commands[layout]!.indexOf('lv') + 1]).toBe('4');
    // A cut flush leaves readers a whole index where meta points (a DEL first: a cut one before).
    expect(at(['del', 'ix'])).toBe(ix - 1);
    expect(ix).toBeLessThan(layout);
    expect(at(['del', 'msg'])).toBeGreaterThan(layout);
    expect(at(['del', 'msgs'])).toBeGreaterThan(layout);
    expect(at(['expire', 'ix', String(TTL)])).toBeGreaterThan(ix);
    expect(commands.some(([, key]) => key === 'msg' || key === 'msgs')).toBe(true);
    expect(commands.filter(([name, key]) => key?.startsWith('msg') && name !== 'del')).toEqual([]);
    expect(state.oneKeyIndex).toBe(true);

    // Moved once: the next write adds to ix only.
    const next = stepAt(NOW + 2);
    applyMessagesSent(state, [msg(4, 'bo')], next);
    expect(commandsOf(next).filter(([, key]) => key === 'ix' || key?.startsWith('msg'))).toEqual([
      ['zadd', 'ix', '4', '2:m4|bo#rw'],
    ]);
  });

  it("moves the members' log:<user> keys (LOG_LAYOUT, INDEX_LAYOUT) into fields with its first write: the fields before meta names them, the keys deleted after", () => {
    for (const kind of ['GROUP', 'DIRECT'] as const) {
      const state = stateOf({
        kind,
        members: ['ana', 'bo'],
        messages: [['m1', 1, 'ana']],
        touched: NOW,
        indexIn: 'log',
      });
      // As the loader holds them: bo's log key, read to 1 at 5000.
      const bo = new MemberLog('bo');
      bo.append({ which: 'read', seq: 1, at: 5000 });
      state.loadMemberLog(bo);
      const step = stepAt(NOW + 1);
      applyMessagesSent(state, [msg(2, 'ana')], step);
      const commands = commandsOf(step);
      const hash = kind === 'DIRECT' ? 'meta' : 'log';
      const fields = commands.findIndex((c) => c[1] === hash && c.includes('l:bo'));
      const layout = commands.findIndex((c) => c[1] === 'meta' && c.includes('lv'));
      const dropped = commands.findIndex((c) => c[0] === 'del' && c[1] === 'log:bo');
      expect({ kind, fields: commands[fields] }).toEqual({
        kind,
        fields: expect.arrayContaining(['hset', hash, 'l:bo', bo.fields()[0]![1]]),
      });
      expect(commands[layout]![commands[layout]!.indexOf('lv') + 1]).toBe('4');
      expect(fields).toBeLessThanOrEqual(layout);
      expect(dropped).toBeGreaterThan(layout);
      expect([state.logsInFields, state.logsToMove]).toEqual([true, false]);
      // Moved once: the next write touches no log key.
      const next = stepAt(NOW + 2);
      applyMessagesSent(state, [msg(3, 'bo')], next);
      expect(commandsOf(next).filter(([, key]) => key?.startsWith('log'))).toEqual([]);
    }
  });

  it('keeps the index of a conversation of an older layout (no layout mark) in msg and msgs', () => {
    const state = stateOf({
      kind: 'GROUP',
      members: ['ana'],
      messages: [['m1', 1, 'ana']],
      touched: NOW,
      indexIn: 'older',
    });
    const step = stepAt(NOW + 1);
    applyMessagesSent(state, [msg(2, 'ana')], step);
    expect(commandsOf(step).filter(([, key]) => key === 'ix' || key?.startsWith('msg'))).toEqual([
      ['hset', 'msg', 'm2', '2|ana|1002'],
      ['zadd', 'msgs', '2', 'm2'],
    ]);
    expect(state.oneKeyIndex).toBe(false);
  });

  it("replaces a message's index entry when its id comes again with another sender or time", () => {
    const state = stateOf({
      kind: 'GROUP',
      members: ['ana', 'bo'],
      messages: [['m1', 1, 'ana']],
      touched: NOW,
    });
    const step = stepAt(NOW + 1);
    applyMessagesSent(state, [{ ...msg(1, 'bo'), sentAt: 2001 }, msg(1, 'ana')], step);
    // The first replaced ana's entry; the second brought it back (and removed bo's). A removal
    // names both forms an entry may have been written in: base 36, and the decimal of builds
    // before it.
    expect(commandsOf(step).filter(([, key]) => key === 'ix')).toEqual([
      ['zadd', 'ix', '1', '2:m1|ana#rt'],
      ['zrem', 'ix', '2:m1|ana|1001', '2:m1|bo#1jl', '2:m1|bo|2001'],
    ]);
    const again = stepAt(NOW + 2);
    applyMessagesSent(state, [msg(1, 'ana')], again);
    // The same content again (a redo): an entry an older build wrote in decimal goes, or the
    // index would hold the message twice.
    expect(commandsOf(again).filter(([, key]) => key === 'ix')).toEqual([
      ['zadd', 'ix', '1', '2:m1|ana#rt'],
      ['zrem', 'ix', '2:m1|ana|1001'],
    ]);
  });

  it("folds what sending read into a group's window: the other senders there are told at its close", () => {
    // ana read up to 1; bo and cy sent 2 and 3; ana's own 4 reads them (sending means having read).
    const state = stateOf({
      kind: 'GROUP',
      members: ['ana', 'bo', 'cy'],
      read: { ana: 1, bo: 2, cy: 3 },
      dlvd: { ana: 1, bo: 2, cy: 3 },
      messages: [
        ['m1', 1, 'ana'],
        ['m2', 2, 'bo'],
        ['m3', 3, 'cy'],
      ],
    });
    const step = stepAt();
    const [result] = applyMessagesSent(state, [msg(4, 'ana')], step);
    expect(result!.windowOpen).toBe(true);
    expect(Object.fromEntries(state.window)).toEqual({
      ver: '0',
      src: '1004', // the message's sent_at
      'r:4': '1',
      's:bo': '1',
      's:cy': '1',
      absorbed: '1',
      unwindowed: '2', // the direct-chat rule: one push to each sender it newly covers
    });
  });

  it('opens no window for a sender who read nothing of others, nor for a direct chat', () => {
    const group = stateOf({
      kind: 'GROUP',
      members: ['ana', 'bo'],
      read: { ana: 1, bo: 0 },
      dlvd: { ana: 1, bo: 0 },
      messages: [['m1', 1, 'ana']],
    });
    const [own] = applyMessagesSent(group, [msg(2, 'ana'), msg(3, 'ana')], stepAt());
    expect(own!.windowOpen).toBe(false);
    expect(group.window.size).toBe(0);

    const direct = stateOf({
      kind: 'DIRECT',
      members: ['ana', 'bo'],
      read: { ana: 0, bo: 1 },
      messages: [['m1', 1, 'bo']],
    });
    const [reply] = applyMessagesSent(direct, [msg(2, 'ana', 'DIRECT')], stepAt());
    expect(reply!.windowOpen).toBe(false);
    expect(direct.window.size).toBe(0);
  });

  it('keeps a window open by receipts open, with their version, and folds the lower start in', () => {
    const state = stateOf({
      kind: 'GROUP',
      members: ['ana', 'bo'],
      read: { ana: 0, bo: 2 },
      dlvd: { ana: 1, bo: 2 },
      messages: [
        ['m1', 1, 'bo'],
        ['m2', 2, 'bo'],
      ],
      window: { ver: '77', src: '900', 'r:2': '1', 's:bo': '1', absorbed: '1', unwindowed: '1' },
    });
    const [result] = applyMessagesSent(state, [msg(3, 'ana')], stepAt());
    expect(result!.windowOpen).toBe(true);
    expect(Object.fromEntries(state.window)).toEqual({
      ver: '77',
      src: '900',
      'r:2': '1',
      'r:3': '0', // from the lower of ana's watermarks (read 0, delivered 1)
      's:bo': '1',
      absorbed: '2',
      unwindowed: '2',
    });
  });
});
