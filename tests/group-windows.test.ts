import { TypeName, type GroupSenderSummary, type ReceiptUpdate } from '../schemas/types';
import { createHarness, eventually, type Harness } from './support/harness';

const SUMMARY = 'GroupSenderSummary';
/** The sender summary an update carries. */
const summaryOf = (u: ReceiptUpdate): GroupSenderSummary =>
  (u.payload as { [TypeName.GroupSenderSummary]: GroupSenderSummary })[TypeName.GroupSenderSummary];

describe('group chat: 2-second windows', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('20 members, 15 read within a window: one summary with read_count 15 and total 19', async () => {
    const g = 'group-20';
    const members = Array.from({ length: 20 }, (_, i) => `u${i}`);
    for (const m of members) h.publish.memberAdded(g, m, 'GROUP');
    h.publish.messageSent(g, { messageId: 'hello', seq: 1, senderId: 'u0', kind: 'GROUP' });
    await h.publish.flush();
    await eventually('message indexed', async () => (await h.read.unread(g, 'u1')) === 1);
    await eventually('badge set', async () => (await h.read.badge('u5')).includes(g));

    for (const reader of members.slice(1, 16)) h.publish.read(g, reader, { seq: 1 });
    await h.publish.flush();

    const summary = await eventually(
      'a summary for u0',
      () => h.out.updatesFor('u0', SUMMARY)[0],
      10_000,
    );
    await new Promise((r) => setTimeout(r, 2500)); // a later window would bring a second summary
    expect(h.out.updatesFor('u0', SUMMARY)).toHaveLength(1);
    expect(summaryOf(summary).messages).toEqual([
      {
        message_id: 'hello',
        seq: 1,
        status: 'READ',
        read_count: 15,
        delivered_count: 15,
        total: 19,
      },
    ]);
    expect(h.out.updatesFor('u0', 'MessageStatusUpdate')).toHaveLength(0);
    expect(await h.read.unread(g, 'u3')).toBe(0);
    expect(await h.read.badge('u3')).toEqual([]);
    expect(await h.read.badge('u17')).toEqual([g]);
    const m = h.pipeline.metrics;
    expect(await m.total(m.groupReceiptsAbsorbed)).toBe(15);
    // Fifteen reads, each would have told u0: one push instead of fifteen, in an active window.
    expect(await m.total(m.groupPushesUnwindowed, { window_receipts: '5-19' })).toBe(15);
    expect(await m.total(m.groupPushesSent, { window_receipts: '5-19' })).toBe(1);
  });

  it('a window on an idle partition closes within window + 500 ms', async () => {
    const g = 'group-idle';
    for (const m of ['s', 'r']) h.publish.memberAdded(g, m, 'GROUP');
    h.publish.messageSent(g, { messageId: 'x', seq: 1, senderId: 's', kind: 'GROUP' });
    await h.publish.flush();
    await eventually('message indexed', async () => (await h.read.unread(g, 'r')) === 1);

    // The read is the last record anywhere: nothing but the wall clock can close its window.
    const sentAt = Date.now();
    h.publish.read(g, 'r', { seq: 1 });
    await h.publish.flush();
    const summary = await eventually('summary', () => h.out.updatesFor('s', SUMMARY)[0], 10_000);
    const latency = summary.emitted_at - sentAt;
    expect(latency).toBeLessThanOrEqual(h.config.windowMs + 500);
  });

  it('each sender hears once a window, about every message of theirs a read covered', async () => {
    const g = 'group-senders';
    for (const m of ['s1', 's2', 'r']) h.publish.memberAdded(g, m, 'GROUP');
    h.publish
      .messageSent(g, { messageId: 's1-a', seq: 1, senderId: 's1', kind: 'GROUP' })
      .messageSent(g, { messageId: 's1-b', seq: 2, senderId: 's1', kind: 'GROUP' })
      .messageSent(g, { messageId: 's2-a', seq: 3, senderId: 's2', kind: 'GROUP' })
      .messageSent(g, { messageId: 's1-c', seq: 4, senderId: 's1', kind: 'GROUP' });
    await h.publish.flush();
    await eventually('indexed', async () => (await h.read.unread(g, 'r')) === 4);
    // Sending read what came before (s2's 3 read s1's 1-2, s1's 4 read s2's 3): those senders
    // hear of it first, from the messages' own window.
    await eventually('reply-implied summaries', () => h.out.updatesFor('s2', SUMMARY)[0], 10_000);
    await eventually('reply-implied summaries', () => h.out.updatesFor('s1', SUMMARY)[0], 10_000);
    const earlier = { s1: h.out.updatesFor('s1', SUMMARY).length, s2: 1 };
    h.publish.read(g, 'r', { seq: 3 });
    await h.publish.flush();
    const after = (u: 's1' | 's2') => h.out.updatesFor(u, SUMMARY).slice(earlier[u]);
    const forS2 = await eventually('s2 summary', () => after('s2')[0], 10_000);
    await eventually('s1 summary', () => after('s1')[0], 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const ids = (u: 's1' | 's2') =>
      after(u).map((x) => summaryOf(x).messages.map((m) => m.message_id));
    expect(ids('s1')).toEqual([['s1-b', 's1-a']]);
    expect(ids('s2')).toEqual([['s2-a']]);
    // r read it, and s1 sent after it (sending means having read what came before).
    expect(summaryOf(forS2).messages).toMatchObject([{ read_count: 2, total: 2 }]);
  });

  it("a member's reply tells the senders it read, also when it overtook the member's read receipt", async () => {
    // The input topics are read side by side: r's own message may be applied before r's earlier
    // read receipt, which then moves nothing. Sending read s1's and s2's messages (DESIGN.md:
    // sending moves the sender's watermark), so they hear it, at the window's close, once each.
    const g = 'group-reply';
    for (const m of ['rp-s1', 'rp-s2', 'rp-r']) h.publish.memberAdded(g, m, 'GROUP');
    h.publish
      .messageSent(g, { messageId: 'rp-1', seq: 1, senderId: 'rp-s1', kind: 'GROUP' })
      .messageSent(g, { messageId: 'rp-2', seq: 2, senderId: 'rp-s2', kind: 'GROUP' });
    await h.publish.flush();
    await eventually('indexed', async () => (await h.read.unread(g, 'rp-r')) === 2);
    const s2Before = h.out.updatesFor('rp-s1', SUMMARY).length; // rp-s2's message read rp-1
    h.publish.messageSent(g, { messageId: 'rp-3', seq: 3, senderId: 'rp-r', kind: 'GROUP' });
    await h.publish.flush();
    await eventually('reply applied', async () => (await h.read.watermark(g, 'rp-r')) === 3);
    h.publish.read(g, 'rp-r', { seq: 2 }); // overtaken: moves nothing now
    await h.publish.flush();
    const toS2 = await eventually(
      'rp-s2 hears',
      () =>
        h.out
          .updatesFor('rp-s2', SUMMARY)
          .map(summaryOf)
          .find((x) => x.messages.some((m) => m.message_id === 'rp-2' && m.read_count === 1)),
      10_000,
    );
    expect(toS2.messages).toEqual([
      { message_id: 'rp-2', seq: 2, status: 'READ', read_count: 1, delivered_count: 1, total: 2 },
    ]);
    const toS1 = await eventually(
      'rp-s1 hears',
      () =>
        h.out
          .updatesFor('rp-s1', SUMMARY)
          .slice(s2Before)
          .map(summaryOf)
          .find((x) => x.messages.some((m) => m.message_id === 'rp-1' && m.read_count === 2)),
      10_000,
    );
    expect(toS1.messages).toMatchObject([{ message_id: 'rp-1', read_count: 2, total: 2 }]);
  });

  it('a clean shutdown closes the open windows instead of leaving them to the next owner', async () => {
    const g = 'group-shutdown';
    for (const m of ['sd-s', 'sd-r']) h.publish.memberAdded(g, m, 'GROUP');
    h.publish.messageSent(g, { messageId: 'bye', seq: 1, senderId: 'sd-s', kind: 'GROUP' });
    await h.publish.flush();
    await eventually('indexed', async () => (await h.read.unread(g, 'sd-r')) === 1);
    h.publish.read(g, 'sd-r', { seq: 1 });
    await h.publish.flush();
    await eventually('read applied', async () => (await h.read.watermark(g, 'sd-r')) === 1);
    await h.stopPipeline(); // well before the 2 s window ends
    const summary = await eventually(
      'summary after stop',
      () => h.out.updatesFor('sd-s', SUMMARY)[0],
      5000,
    );
    expect(summaryOf(summary).messages).toMatchObject([{ message_id: 'bye', read_count: 1 }]);
    await h.startPipeline();
  });
});

describe('group windows close at their end, not at the next punctuation tick', () => {
  let h: Harness;
  beforeAll(async () => {
    // A coarse interval out of step with the 2 s windows: only the aligned wake-up closes them
    // all on time.
    h = await createHarness({ TICKS_PUNCTUATE_INTERVAL_MS: '430' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('three windows in a row each close within 150 ms of their end', async () => {
    const g = 'group-aligned';
    for (const m of ['s', 'r']) h.publish.memberAdded(g, m, 'GROUP');
    await h.publish.flush();
    for (let seq = 1; seq <= 3; seq++) {
      h.publish.messageSent(g, { messageId: `m${seq}`, seq, senderId: 's', kind: 'GROUP' });
      await h.publish.flush();
      await eventually('message indexed', async () => (await h.read.unread(g, 'r')) === 1);
      h.publish.read(g, 'r', { seq });
      await h.publish.flush();
      const summary = await eventually(
        `summary ${seq}`,
        () => h.out.updatesFor('s', SUMMARY)[seq - 1],
        10_000,
      );
      const windowEnd = Math.floor(summary.emitted_at / h.config.windowMs) * h.config.windowMs;
      expect(summary.emitted_at - windowEnd).toBeLessThanOrEqual(150);
    }
  });
});
