import { createHarness, eventually, type Harness } from './support/harness';

describe('privacy: read receipts turned off', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({}, { startPipeline: false });
    h.publish.settings('Quiet', false);
    await h.publish.flush();
    await h.startPipeline(); // the settings table is loaded before the first receipt
  });
  afterAll(async () => {
    await h?.close();
  });

  it('direct chat: the reader’s unread clears, the sender gets delivered, never read', async () => {
    const c = 'dm-quiet';
    h.publish.memberAdded(c, 'Loud', 'DIRECT').memberAdded(c, 'Quiet', 'DIRECT');
    h.publish.messageSent(c, { messageId: 'q1', seq: 1, senderId: 'Loud', kind: 'DIRECT' });
    await h.publish.flush();
    await eventually('indexed', async () => (await h.read.unread(c, 'Quiet')) === 1);
    h.publish.read(c, 'Quiet', { seq: 1 });
    await h.publish.flush();
    await eventually('unread cleared', async () => (await h.read.unread(c, 'Quiet')) === 0);
    await eventually('badge cleared', async () => (await h.read.badge('Quiet')).length === 0);
    const update = await eventually(
      'Loud told',
      () => h.out.updatesFor('Loud', 'MessageStatusUpdate')[0],
    );
    expect(update.payload).toMatchObject({
      'dev.ticks.MessageStatusUpdate': { message_id: 'q1', status: 'DELIVERED' },
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(JSON.stringify(h.out.updatesFor('Loud'))).not.toContain('"READ"');
  });

  it('group: read_count excludes the reader who opted out, delivered_count includes them', async () => {
    const g = 'group-quiet';
    for (const m of ['Loud', 'Quiet', 'Open']) h.publish.memberAdded(g, m, 'GROUP');
    h.publish.messageSent(g, { messageId: 'gq1', seq: 1, senderId: 'Loud', kind: 'GROUP' });
    await h.publish.flush();
    await eventually('indexed', async () => (await h.read.unread(g, 'Quiet')) === 1);
    h.publish.read(g, 'Quiet', { seq: 1 }).read(g, 'Open', { seq: 1 });
    await h.publish.flush();
    const summary = await eventually(
      'summary',
      () => h.out.updatesFor('Loud', 'GroupSenderSummary')[0],
      10_000,
    );
    expect(summary.payload).toMatchObject({
      'dev.ticks.GroupSenderSummary': {
        messages: [{ message_id: 'gq1', read_count: 1, delivered_count: 2, total: 2 }],
      },
    });
    expect(await h.read.unread(g, 'Quiet')).toBe(0);
  });
});
