import type { ReceiptResult } from '../../stores/redis/conversation-store';
import { StateNotLoadedError } from '../../stores/state/conversation-state';
import type { EngineStep } from './engine-step';
import {
  commandsOf,
  expired,
  groupOfThreeSenders,
  NOW,
  TTL,
  receipt,
  stateOf,
  stepAt,
  type StateSpec,
} from '../../tests/support/engine-fixtures';
import { applyReceipts } from './apply-receipts';
import { decodeChunk, encodeMove } from '../../stores/state/member-log';
import { deliveredByNeeded } from './delivered-by-needed';

type Applied = Extract<ReceiptResult, { applied: true }>;
const applied = (r: ReceiptResult | undefined): Applied => {
  if (!r?.applied) throw new Error(`not applied: ${JSON.stringify(r)}`);
  return r;
};

/** ana and bo, four messages: ana m1, ana m2, bo m3, ana m4. */
const direct = (extra: StateSpec = {}) =>
  stateOf({
    kind: 'DIRECT',
    members: ['ana', 'bo'],
    read: { ana: 4, bo: 3 },
    dlvd: { ana: 4, bo: 3 },
    messages: [
      ['m1', 1, 'ana'],
      ['m2', 2, 'ana'],
      ['m3', 3, 'bo'],
      ['m4', 4, 'ana'],
    ],
    ...extra,
  });

const group = (extra: StateSpec = {}) =>
  stateOf({
    kind: 'GROUP',
    members: ['ana', 'bo', 'cy'],
    read: { ana: 1, bo: 0, cy: 0 },
    dlvd: { ana: 1, bo: 0, cy: 0 },
    messages: [
      ['m1', 1, 'ana'],
      ['m2', 2, 'bo'],
      ['m3', 3, 'ana'],
    ],
    ...extra,
  });

describe('applyReceipts: held receipts mark nothing', () => {
  it('holds a non-member, a seq not reached and an unknown id, and writes nothing', () => {
    const state = group({ deliveredBy: { m1: [] } });
    const step = stepAt();
    const results = applyReceipts(
      state,
      [
        receipt('mallory', { type: 'read', seq: 1 }),
        receipt('bo', { type: 'read', seq: 4 }),
        receipt('bo', { type: 'dlv_seq', seq: 9 }),
        receipt('bo', { type: 'read_id', messageId: 'nope' }),
        receipt('bo', { type: 'dlv_ids', messageIds: ['m1', 'nope'] }),
      ],
      step,
    );
    expect(results).toEqual([
      { applied: false, reason: 'NOT_A_MEMBER' },
      { applied: false, reason: 'SEQ_NOT_REACHED' },
      { applied: false, reason: 'SEQ_NOT_REACHED' },
      { applied: false, reason: 'UNKNOWN_MESSAGE' },
      { applied: false, reason: 'UNKNOWN_MESSAGE' },
    ]);
    // Not even an expiry refresh: held receipts may name no conversation yet.
    expect(commandsOf(step)).toEqual([]);
  });
});

describe('applyReceipts: watermarks', () => {
  it('moves read (and delivered with it) forward only, logging each move', () => {
    const state = group();
    const step = stepAt();
    const [up, back, again] = applyReceipts(
      state,
      [
        receipt('bo', { type: 'read', seq: 2 }, { at: 7000 }),
        receipt('bo', { type: 'read', seq: 1 }),
        receipt('bo', { type: 'read_id', messageId: 'm2' }),
      ],
      step,
    ).map(applied);
    expect(up).toMatchObject({ oldRead: 0, newRead: 2, read: 2, delivered: 2, changed: true });
    expect(up).toMatchObject({ unread: 1, atEnd: false, lastSeq: 3 });
    expect(back).toMatchObject({ oldRead: 2, newRead: 2, changed: false, unread: 1 });
    expect(again).toMatchObject({ oldRead: 2, newRead: 2, changed: false });
    expect(commandsOf(step)).toEqual(
      expect.arrayContaining([
        // Read to 2 at 7000: a group's logs are fields of its `log` hash (member-log.ts).
        ['hset', 'log', 'l:bo', encodeMove(null, { which: 'read', seq: 2, at: 7000 })],
        ['expire', 'log', '3600'],
        // The watermarks are meta fields.
        ['hset', 'meta', 'r:bo', '2', 'd:bo', '2'],
      ]),
    );
  });

  it('moves delivered by seq alone, and a later read still moves read', () => {
    const state = group();
    const step = stepAt();
    const [dlv, read] = applyReceipts(
      state,
      [
        receipt('cy', { type: 'dlv_seq', seq: 3 }, { at: 7000 }),
        receipt('cy', { type: 'read', seq: 3 }),
      ],
      step,
    ).map(applied);
    expect(dlv).toMatchObject({ oldRead: 0, newRead: 0, read: 0, delivered: 3, changed: true });
    expect(read).toMatchObject({ read: 3, delivered: 3, changed: true, atEnd: true, unread: 0 });
    // Both moves in cy's one log, the read counted from the delivery before it.
    const delivered = { which: 'delivered', seq: 3, at: 7000 } as const;
    const chunk =
      encodeMove(null, delivered) + encodeMove(delivered, { which: 'read', seq: 3, at: 5110 });
    expect(commandsOf(step)).toContainEqual(['hset', 'log', 'l:cy', chunk]);
    expect(decodeChunk(chunk)).toEqual([delivered, { which: 'read', seq: 3, at: 5110 }]);
  });

  it("logs a direct chat's moves in meta (no key of their own), an older build's in log:<user>", () => {
    const spec: StateSpec = {
      kind: 'DIRECT',
      members: ['ana', 'bo'],
      messages: [['m1', 1, 'ana']],
      read: { ana: 1 },
      touched: NOW,
    };
    const direct = stateOf(spec);
    const step = stepAt();
    applyReceipts(direct, [receipt('bo', { type: 'read', seq: 1 }, { at: 7000 })], step);
    const chunk = encodeMove(null, { which: 'read', seq: 1, at: 7000 });
    expect(commandsOf(step)).toContainEqual([
      'hset',
      'meta',
      ...['r:bo', '1', 'd:bo', '1', 'l:bo', chunk, 'tr:bo', '1'],
    ]);
    expect(commandsOf(step).map((c) => c[1])).not.toContain('log');

    const older = stateOf({ ...spec, kind: 'GROUP', indexIn: 'older' });
    const olderStep = stepAt();
    applyReceipts(older, [receipt('bo', { type: 'read', seq: 1 }, { at: 7000 })], olderStep);
    expect(commandsOf(olderStep)).toContainEqual(['zadd', 'log:bo', '1', '7000001']);
  });

  it('records delivery by id once per reader and message, expiring the hashes it writes', () => {
    const state = group({ deliveredBy: { m2: ['cy'], m3: [] } });
    const step = stepAt();
    const [first, dup] = applyReceipts(
      state,
      [
        receipt('cy', { type: 'dlv_ids', messageIds: ['m2', 'm3'] }, { at: 7000 }),
        receipt('cy', { type: 'dlv_ids', messageIds: ['m3'] }),
      ],
      step,
    ).map(applied);
    expect(first).toMatchObject({ newlyDeliveredIds: ['m3'], changed: true, delivered: 0 });
    expect(dup).toMatchObject({ newlyDeliveredIds: [], changed: false });
    const cmds = commandsOf(step);
    // One hash per conversation: '<bytes of id>:<id>:<user>' → when; cy's m2 was known.
    expect(cmds.filter((c) => c[1] === 'dlv')).toEqual([
      ['hset', 'dlv', '2:m3:cy', '7000'],
      ['expire', 'dlv', String(TTL)],
    ]);
  });

  it('refreshes a log’s expiry on a write only when it was not refreshed lately', () => {
    const state = group();
    const expiresOf = (step: EngineStep) =>
      commandsOf(step)
        .filter((c) => c[0] === 'expire' && c[1] === 'log')
        .map((c) => c[1]);
    const readAt = (now: number, seq: number) => {
      const step = stepAt(now);
      applyReceipts(state, [receipt('bo', { type: 'read', seq })], step);
      return expiresOf(step);
    };
    expect(readAt(NOW, 1)).toEqual(['log']); // created: expires
    expect(readAt(NOW + 1_000, 2)).toEqual([]); // refreshed a second ago
    const later = NOW + 1_000 + (TTL * 1000) / 24;
    expect(readAt(later, 3)).toEqual(['log']);
  });

  it('refuses, before changing anything, a run whose delivered-by-id state is not loaded', () => {
    const state = group();
    const step = stepAt();
    expect(() =>
      applyReceipts(
        state,
        [
          receipt('bo', { type: 'read', seq: 2 }),
          receipt('cy', { type: 'dlv_ids', messageIds: ['m3'] }),
        ],
        step,
      ),
    ).toThrow(StateNotLoadedError);
    expect(state.read.get('bo')).toBe(0);
    expect(commandsOf(step)).toEqual([]);
  });

  it('takes an unknown conversation for a group', () => {
    const state = stateOf({ members: ['ana'], messages: [['m1', 1, 'bo']] });
    expect(
      applyReceipts(state, [receipt('ana', { type: 'read', seq: 1 })], stepAt())[0],
    ).toMatchObject({ applied: true, kind: 'GROUP', peer: null, push: null, windowOpen: true });
  });
});

describe('applyReceipts: direct chats tell the peer once', () => {
  it('tells the peer its newest message the receipt covers, once: the mark is the seq told', () => {
    const state = direct({ deliveredBy: { m1: [] } });
    const step = stepAt();
    const results = applyReceipts(
      state,
      [
        receipt('bo', { type: 'dlv_ids', messageIds: ['m1'] }, { version: 1 }),
        receipt('bo', { type: 'dlv_seq', seq: 4 }, { version: 2 }),
        receipt('bo', { type: 'read', seq: 2 }, { version: 3 }),
        receipt('bo', { type: 'read', seq: 4 }, { version: 4 }),
        receipt('bo', { type: 'read', seq: 2 }, { version: 5 }), // backwards: nothing new
        receipt('ana', { type: 'read', seq: 3 }, { version: 6 }),
      ],
      step,
    ).map(applied);
    expect(results.map((r) => [r.peer, r.push && `${r.push.messageId} ${r.push.status}`])).toEqual([
      ['ana', 'm1 DELIVERED'],
      ['ana', 'm4 DELIVERED'],
      ['ana', 'm2 READ'],
      ['ana', 'm4 READ'],
      ['ana', null],
      // ana's read moves nothing (ana sent m4), yet bo was never told: upTo is the watermark.
      ['bo', 'm3 READ'],
    ]);
    expect(Object.fromEntries(state.notified)).toEqual({
      'd:bo': '4',
      'r:bo': '4',
      'r:ana': '3',
    });
    // Written into meta ('t' + field), which expires with the conversation: no key of their own.
    const metaWrites = commandsOf(step).filter((c) => c[0] === 'hset' && c[1] === 'meta');
    expect(metaWrites.flat()).toEqual(expect.arrayContaining(['td:bo', '4', 'tr:ana']));
    expect(commandsOf(step).some((c) => c[1] === 'notified')).toBe(false);
    expect(results.every((r) => !r.windowOpen)).toBe(true);
  });

  it('tells nothing for a receipt at or below the mark, the one that set it included (a redo)', () => {
    const state = direct({ notified: { 'r:bo': '4|11|m4', 'd:bo': '2|10|m2' } });
    const results = applyReceipts(
      state,
      [
        receipt('bo', { type: 'dlv_seq', seq: 2 }, { version: 10 }),
        receipt('bo', { type: 'read', seq: 4 }, { version: 11 }),
        receipt('bo', { type: 'read', seq: 4 }, { version: 12 }),
        receipt('bo', { type: 'dlv_seq', seq: 4 }, { version: 13 }),
      ],
      stepAt(),
    ).map(applied);
    // Its state was written after its update was produced: telling it again (with a new version)
    // could put the DELIVERED after a READ that is not redone.
    expect(results.map((r) => r.push && `${r.push.messageId} ${r.push.status}`)).toEqual([
      null,
      null,
      null,
      null,
    ]);
  });

  it('tells a reader who does not share reads as delivered, above what was told at all', () => {
    const state = direct({ read: { ana: 4, bo: 0 }, dlvd: { ana: 4, bo: 0 } });
    const results = applyReceipts(
      state,
      [
        receipt('bo', { type: 'read', seq: 2 }, { shareRead: false }),
        receipt('bo', { type: 'dlv_seq', seq: 2 }),
        receipt('bo', { type: 'read', seq: 4 }),
      ],
      stepAt(),
    ).map(applied);
    expect(results.map((r) => r.push && `${r.push.messageId} ${r.push.status}`)).toEqual([
      'm2 DELIVERED',
      null,
      'm4 READ',
    ]);
    expect(state.notified.get('d:bo')).toBe('2');
  });

  it('tells a delivery by ids only of messages the reader confirmed by id', () => {
    // bo confirms its own m3 only: the lookup from m3 down finds ana's m2, not confirmed by bo,
    // then ana's m1, confirmed in an earlier run.
    const state = direct({
      read: { ana: 4, bo: 0 },
      dlvd: { ana: 4, bo: 0 },
      deliveredBy: { m1: ['bo'], m2: [], m3: [] },
    });
    const [r] = applyReceipts(
      state,
      [receipt('bo', { type: 'dlv_ids', messageIds: ['m3'] })],
      stepAt(),
    ).map(applied);
    expect(r!.push).toEqual({ messageId: 'm1', seq: 1, status: 'DELIVERED' });
  });

  it("names the peer's messages the lookup may test, down to one known confirmed", () => {
    const state = direct({
      read: { ana: 4, bo: 0 },
      dlvd: { ana: 4, bo: 0 },
      deliveredBy: { m1: ['bo'] },
    });
    const run = [receipt('bo', { type: 'dlv_ids', messageIds: ['m3'] })];
    // m3 itself (HSETNX), then ana's m2, unknown; m1 is known confirmed: the lookup stops there.
    expect(deliveredByNeeded(state, run).sort()).toEqual(['m2', 'm3']);
    expect(() => applyReceipts(state, run, stepAt())).toThrow(StateNotLoadedError);
  });
});

describe('applyReceipts: group windows', () => {
  it('folds the run into the window: lowest start per end, highest version, earliest source time', () => {
    const state = group({ deliveredBy: { m3: [] } });
    const step = stepAt();
    const results = applyReceipts(
      state,
      [
        receipt('bo', { type: 'read', seq: 2 }, { version: 5, sourceAt: 900 }),
        receipt('cy', { type: 'read', seq: 2 }, { version: 4, sourceAt: 950 }),
        receipt('cy', { type: 'dlv_ids', messageIds: ['m3'] }, { version: 6, sourceAt: 990 }),
        receipt('cy', { type: 'read', seq: 1 }, { version: 9, sourceAt: 100 }), // changes nothing
      ],
      step,
    ).map(applied);
    expect(results.map((r) => r.windowOpen)).toEqual([true, true, true, true]);
    expect(Object.fromEntries(state.window)).toEqual({
      ver: '6',
      src: '900',
      'r:2': '0',
      'r:3': '2',
      absorbed: '3',
      // bo's read told ana (m1); cy's read ana (m1) and bo (m2); cy's delivery of m3 ana.
      unwindowed: '4',
      's:ana': '1',
      's:bo': '1',
    });
    expect(expired(step)).toContain('win');
  });

  it('keeps a lower start the window already has; an unchanged window keeps its expiry', () => {
    const state = group({ window: { ver: '3', src: '800', 'r:2': '0', absorbed: '1' } });
    const step = stepAt();
    applyReceipts(state, [receipt('ana', { type: 'read', seq: 2 }, { version: 7 })], step);
    expect(Object.fromEntries(state.window)).toEqual({
      ver: '7',
      src: '800',
      'r:2': '0',
      absorbed: '2',
      unwindowed: '1', // ana's read (1, 2] covered bo's m2
      's:bo': '1',
    });
    expect(expired(step)).not.toContain('win');
  });

  it('counts, per receipt, one push to each sender other than the reader it newly covers', () => {
    const state = groupOfThreeSenders();
    applyReceipts(
      state,
      [
        receipt('dee', { type: 'read', seq: 4 }), // (0, 4]: ana, bo and cy — three pushes
        receipt('bo', { type: 'read', seq: 4 }), // (2, 4]: cy and ana — two
        receipt('cy', { type: 'dlv_seq', seq: 3 }), // at cy's own watermark: changes nothing
      ],
      stepAt(),
    );
    expect(Object.fromEntries(state.window)).toMatchObject({
      absorbed: '2',
      unwindowed: '5',
      's:ana': '1',
      's:bo': '1',
      's:cy': '1',
    });
  });

  it('tells nobody of a read that is not shared over what was delivered, nor of a delivery by id below the watermark', () => {
    const state = group({ dlvd: { ana: 1, bo: 0, cy: 2 }, deliveredBy: { m2: [] } });
    applyReceipts(
      state,
      [
        receipt('cy', { type: 'read', seq: 2 }, { shareRead: false }), // delivered already
        receipt('cy', { type: 'dlv_ids', messageIds: ['m2'] }), // m2 is below cy's watermark
        receipt('bo', { type: 'read', seq: 3 }, { shareRead: false }), // delivers m1 m3: ana
      ],
      stepAt(),
    );
    expect(Object.fromEntries(state.window)).toMatchObject({ absorbed: '3', unwindowed: '1' });
    expect([...state.window.keys()].filter((f) => f.startsWith('s:'))).toEqual(['s:ana']);
  });

  it('says a window is open when one is, though this run added nothing', () => {
    const open = group({ window: { ver: '3' } });
    const [r] = applyReceipts(open, [receipt('ana', { type: 'read', seq: 1 })], stepAt());
    expect(applied(r).windowOpen).toBe(true);
    const none = group();
    const [s] = applyReceipts(none, [receipt('ana', { type: 'read', seq: 1 })], stepAt());
    expect(applied(s).windowOpen).toBe(false);
  });
});
