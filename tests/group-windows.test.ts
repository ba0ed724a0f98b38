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
    h.publish.read(g, 'r', { seq: 3 });
    await h.publish.flush();
    const forS2 = await eventually('s2 summary', () => h.out.updatesFor('s2', SUMMARY)[0], 10_000);
    await eventually('s1 summary', () => h.out.updatesFor('s1', SUMMARY)[0], 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const ids = (u: string) =>
      h.out.updatesFor(u, SUMMARY).map((x) => summaryOf(x).messages.map((m) => m.message_id));
    expect(ids('s1')).toEqual([['s1-b', 's1-a']]);
    expect(ids('s2')).toEqual([['s2-a']]);
    // r read it, and s1 sent after it (sending means having read what came before).
    expect(summaryOf(forS2).messages).toMatchObject([{ read_count: 2, total: 2 }]);
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
