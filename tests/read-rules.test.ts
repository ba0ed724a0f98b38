import { createHarness, eventually, type Harness } from './support/harness';

/** DESIGN.md: never a false "read"; watermarks never go backwards; early reads wait, then go. */
describe('read rules', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ TICKS_PENDING_RECEIPT_WAIT_MS: '3000' });
  });
  afterAll(async () => {
    await h?.close();
  });

  async function directChat(c: string, messages: number) {
    h.publish.memberAdded(c, 'A', 'DIRECT').memberAdded(c, 'B', 'DIRECT');
    for (let seq = 1; seq <= messages; seq++)
      h.publish.messageSent(c, { messageId: `${c}-${seq}`, seq, senderId: 'A', kind: 'DIRECT' });
    await h.publish.flush();
    await eventually(`${c} indexed`, async () => (await h.read.unread(c, 'B')) === messages);
  }

  it('a read that arrives before its message is applied once the message arrives', async () => {
    const c = 'early';
    await directChat(c, 2);
    h.publish.read(c, 'B', { seq: 3 });
    await h.publish.flush();
    await new Promise((r) => setTimeout(r, 1000));
    expect(await h.read.watermark(c, 'B')).toBe(0); // held: seq 3 does not exist yet
    h.publish.messageSent(c, { messageId: `${c}-3`, seq: 3, senderId: 'A', kind: 'DIRECT' });
    await h.publish.flush();
    await eventually('read applied', async () => (await h.read.watermark(c, 'B')) === 3);
    expect(await h.read.unread(c, 'B')).toBe(0);
    const update = await eventually('A told', () =>
      h.out
        .updatesFor('A', 'MessageStatusUpdate')
        .find((u) => JSON.stringify(u.payload).includes(`${c}-3`)),
    );
    expect(update.payload).toMatchObject({
      'dev.ticks.MessageStatusUpdate': { status: 'READ', by: 'B' },
    });
    expect(
      h.out.deadLetters.filter((d) => d.reason === 'SEQ_NOT_REACHED' && d.detail.includes(c)),
    ).toHaveLength(0);
  });

  it('a read beyond the last seq marks nothing and, after the bounded wait, is dead-lettered', async () => {
    const c = 'beyond';
    await directChat(c, 2);
    h.publish.read(c, 'B', { seq: 99 });
    await h.publish.flush();
    const dead = await eventually(
      'dead letter',
      () => h.out.deadLetters.find((d) => d.reason === 'SEQ_NOT_REACHED' && d.detail.includes(c)),
      15_000,
    );
    expect(dead.source_topic).toBe(h.topics.receiptEvents);
    expect(dead.value).not.toBeNull();
    expect(await h.read.watermark(c, 'B')).toBe(0);
    expect(await h.read.unread(c, 'B')).toBe(2);
    expect(
      h.out
        .updatesFor('A', 'MessageStatusUpdate')
        .filter((u) => JSON.stringify(u.payload).includes(c)),
    ).toHaveLength(0);
  });

  it('a read from a non-member marks nothing and is dead-lettered with its reason', async () => {
    const c = 'outsider';
    await directChat(c, 1);
    h.publish.read(c, 'Mallory', { seq: 1 });
    await h.publish.flush();
    const dead = await eventually(
      'dead letter',
      () =>
        h.out.deadLetters.find((d) => d.reason === 'NOT_A_MEMBER' && d.detail.includes('Mallory')),
      15_000,
    );
    expect(dead.detail).toContain(c);
    expect(await h.read.watermark(c, 'Mallory')).toBe(0);
    expect(await h.read.members(c)).toEqual(['A', 'B']);
    expect(
      h.out
        .updatesFor('A', 'MessageStatusUpdate')
        .filter((u) => JSON.stringify(u.payload).includes(c)),
    ).toHaveLength(0);
  });

  it('a backwards read never moves the watermark back', async () => {
    const c = 'backwards';
    await directChat(c, 4);
    h.publish.read(c, 'B', { seq: 4 });
    await h.publish.flush();
    await eventually('read 4', async () => (await h.read.watermark(c, 'B')) === 4);
    // The peer's "told up to" mark is written once the update is out: wait for the update.
    await eventually('A told of the read', () =>
      h.out
        .updatesFor('A', 'MessageStatusUpdate')
        .some((u) => JSON.stringify(u.payload).includes(c)),
    );
    await new Promise((r) => setTimeout(r, 200));
    h.publish.read(c, 'B', { seq: 2 }).read(c, 'B', { messageId: `${c}-1` });
    h.publish.memberAdded('marker-' + c, 'B', 'DIRECT'); // processed after the reads (same test flush)
    await h.publish.flush();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await h.read.watermark(c, 'B')).toBe(4);
    expect(await h.read.unread(c, 'B')).toBe(0);
    expect(
      h.out
        .updatesFor('A', 'MessageStatusUpdate')
        .filter((u) => JSON.stringify(u.payload).includes(c)),
    ).toHaveLength(1);
  });
});
