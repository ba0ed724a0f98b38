import { TypeName, type DeadLetter, type ReceiptUpdate } from '../../schemas/types';
import { emptyVerdict, judgeApi, judgeDeadLetters, judgeUpdates, type UnreadAnswer } from './judge';
import { ReferenceModel } from './reference-model';

/** The chaos judge must see each kind of difference, or the suite could not fail. */
describe('chaos judge', () => {
  /** A direct chat: Ana sends 1 and 2, Bo reads up to 2 (his receipt moves his watermark). */
  function chat(): ReferenceModel {
    const model = new ReferenceModel();
    model.addConversation('dm', 'DIRECT', ['ana', 'bo']);
    model.send('dm', 'ana');
    model.send('dm', 'ana');
    model.markRead('dm', 'bo', 2);
    return model;
  }

  const status = (version: number, seq: number, status: 'READ' | 'DELIVERED'): ReceiptUpdate => ({
    update_id: `u${version}`,
    user_id: 'ana',
    version,
    source_event_at: 0,
    emitted_at: 0,
    payload: {
      [TypeName.MessageStatusUpdate]: {
        conversation_id: 'dm',
        message_id: `dm:${seq}`,
        seq,
        status,
        by: 'bo',
      },
    } as ReceiptUpdate['payload'],
  });

  it('accepts the truth', () => {
    const v = emptyVerdict();
    judgeUpdates(v, chat(), [status(4, 1, 'DELIVERED'), status(5, 2, 'READ')]);
    expect(v).toMatchObject({ staleStatuses: 0, falseReads: 0, otherMismatches: 0 });
  });

  it('counts a READ never told as stale, and one beyond the read as false', () => {
    const stale = emptyVerdict();
    judgeUpdates(stale, chat(), [status(5, 1, 'READ')]);
    expect(stale.staleStatuses).toBe(2); // READ and DELIVERED both behind m2
    const beyond = chat();
    beyond.send('dm', 'ana'); // m3, not read
    const wrong = emptyVerdict();
    judgeUpdates(wrong, beyond, [status(5, 3, 'READ')]);
    expect(wrong.falseReads).toBeGreaterThan(0);
  });

  it('applies updates by version: a newer one arriving first hides an older one', () => {
    const v = emptyVerdict();
    judgeUpdates(v, chat(), [status(6, 1, 'DELIVERED'), status(5, 2, 'READ')]);
    expect(v.otherMismatches).toBe(1); // arrived out of order
    expect(v.staleStatuses).toBe(2); // the client dropped the READ: READ and DELIVERED behind
  });

  // kafka-restart: a produce request retried after the broker wrote it without answering writes
  // its records again (a new producer id), after later ones: the same update, not a reordering.
  it('an exact repeat arriving after a higher version is no mismatch; other content is', () => {
    const repeated = emptyVerdict();
    judgeUpdates(repeated, chat(), [
      status(4, 1, 'DELIVERED'),
      status(5, 2, 'READ'),
      status(4, 1, 'DELIVERED'),
    ]);
    expect(repeated).toMatchObject({ staleStatuses: 0, falseReads: 0, otherMismatches: 0 });
    expect(repeated.checked['exact repeats']).toBe(1);
    const reordered = emptyVerdict();
    judgeUpdates(reordered, chat(), [status(5, 2, 'READ'), status(4, 1, 'DELIVERED')]);
    expect(reordered.otherMismatches).toBe(1);
  });

  it('a read only the reader’s own message implies is told too: a status that omits it is stale', () => {
    const model = chat();
    model.send('dm', 'ana'); // m3
    model.send('dm', 'bo'); // m4: Bo's watermark moves over m3 without a receipt
    const v = emptyVerdict();
    judgeUpdates(v, model, [status(5, 2, 'READ')]);
    expect(v.staleStatuses).toBe(2); // READ and DELIVERED of m3 untold
    const told = emptyVerdict();
    judgeUpdates(told, model, [status(5, 2, 'READ'), status(6, 3, 'READ')]);
    expect(told).toMatchObject({ staleStatuses: 0, falseReads: 0, otherMismatches: 0 });
  });

  // RELIABILITY.md findings 1 and 2 (sigkill, aux-redis-down): Bo's own message 3 moved his
  // watermarks over Ana's 1 and 2 before his delivery receipt was applied (the input topics are
  // read side by side); the receipt moved only (3, 4]. In a group what sending read is folded
  // into the window like a receipt, so Ana must hear of it too: a group count behind the truth is
  // stale whatever moved the watermark.
  it('a group count a member’s own message implies is promised: a summary that omits it is stale', () => {
    const model = new ReferenceModel();
    model.addConversation('g', 'GROUP', ['ana', 'bo', 'cy']);
    model.send('g', 'ana'); // 1
    model.send('g', 'ana'); // 2
    model.markDelivered('g', 'bo', 2);
    model.send('g', 'bo'); // 3
    model.send('g', 'cy'); // 4
    model.markDelivered('g', 'bo', 4);
    const counts = (seq: number, delivered: number) => ({
      message_id: `g:${seq}`,
      seq,
      status: 'DELIVERED' as const,
      read_count: 0,
      delivered_count: delivered,
      total: 2,
    });
    const summary = (user: string, version: number, seqs: number[]): ReceiptUpdate => ({
      update_id: `s${version}`,
      user_id: user,
      version,
      source_event_at: 0,
      emitted_at: 0,
      payload: {
        [TypeName.GroupSenderSummary]: {
          conversation_id: 'g',
          messages: seqs.map((seq) => counts(seq, 1)),
          window_start: 0,
          window_end: 2000,
        },
      } as ReceiptUpdate['payload'],
    });
    // Only Cy told (the receipt's window): Ana's 1 and 2 stay untold, stale.
    const onlyCy = emptyVerdict();
    judgeUpdates(onlyCy, model, [summary('cy', 7, [4])]);
    expect(onlyCy.staleStatuses).toBeGreaterThanOrEqual(2);
    // Bo's and Cy's messages read what came before them (sending reads): Ana's 1 and 2 are read
    // by both, Bo's 3 by Cy; Bo's receipt delivered Cy's 4. Told so, it is the truth.
    const told = emptyVerdict();
    const groupSummary = (user: string, version: number, messages: object[]): ReceiptUpdate => ({
      ...summary(user, version, []),
      payload: {
        [TypeName.GroupSenderSummary]: {
          conversation_id: 'g',
          messages,
          window_start: 0,
          window_end: 2000,
        },
      } as ReceiptUpdate['payload'],
    });
    const read = (seq: number, readers: number) => ({
      ...counts(seq, readers),
      status: 'READ' as const,
      read_count: readers,
    });
    judgeUpdates(told, model, [
      groupSummary('ana', 5, [read(2, 2), read(1, 2)]),
      groupSummary('bo', 6, [read(3, 1)]),
      summary('cy', 7, [4]),
    ]);
    expect(told).toMatchObject({ staleStatuses: 0, falseReads: 0, otherMismatches: 0 });
  });

  it('checks the API: lost messages and reads, false reads, unread counts, badges', async () => {
    const model = chat();
    const answer = (readUpTo: number, lastSeq: number, badge: string[]): UnreadAnswer => ({
      user_id: 'bo',
      conversations: [
        {
          conversation_id: 'dm',
          unread: lastSeq - readUpTo,
          read_up_to_seq: readUpTo,
          last_seq: lastSeq,
        },
      ],
      badge: { count: badge.length, sources: badge },
    });
    const judge = async (bo: UnreadAnswer) => {
      const v = emptyVerdict();
      await judgeApi(v, model, async (user) =>
        user === 'bo' ? bo : { ...answer(2, 2, []), user_id: user },
      );
      return v;
    };
    expect(await judge(answer(2, 2, []))).toMatchObject({
      eventsLost: 0,
      falseReads: 0,
      otherMismatches: 0,
    });
    expect((await judge(answer(1, 2, ['ana']))).eventsLost).toBe(1);
    expect((await judge(answer(2, 1, []))).eventsLost).toBe(1);
    model.send('dm', 'ana'); // m3, unread for Bo
    expect((await judge(answer(3, 3, []))).falseReads).toBe(1);
    expect((await judge(answer(2, 3, []))).otherMismatches).toBe(1); // the badge lacks Ana
  });

  it('requires every hostile record in dead_letters, and nothing else there', () => {
    const dead = (hex: string): DeadLetter => ({
      source_topic: 't',
      source_partition: 0,
      source_offset: 1,
      key: null,
      value: Buffer.from(hex, 'hex'),
      reason: 'UNDECODABLE',
      detail: 'bad',
      failed_at: 0,
    });
    const v = emptyVerdict();
    judgeDeadLetters(v, [dead('aa'), dead('cc')], new Set(['aa', 'bb']), new Set());
    expect(v.eventsLost).toBe(1); // bb missing
    expect(v.otherMismatches).toBe(1); // cc not expected
  });
});
