import { createHarness, eventually, type Harness } from './support/harness';

describe('direct chat: unread, badge, read receipts', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('five messages A→B: badge 1, unread 5; B reads to the last: both 0 and A gets one read update', async () => {
    const c = 'dm-a-b';
    h.publish.memberAdded(c, 'A', 'DIRECT').memberAdded(c, 'B', 'DIRECT');
    for (let seq = 1; seq <= 5; seq++)
      h.publish.messageSent(c, { messageId: `m${seq}`, seq, senderId: 'A', kind: 'DIRECT' });
    await h.publish.flush();

    await eventually('unread 5', async () => (await h.read.unread(c, 'B')) === 5);
    // The badge is written right after the conversation state, in the same batch.
    await eventually('badge A', async () => (await h.read.badge('B')).join() === 'A');
    expect(await h.read.unread(c, 'A')).toBe(0);

    h.publish.read(c, 'B', { seq: 5 }, 'phone');
    await h.publish.flush();

    await eventually('B unread 0', async () => (await h.read.unread(c, 'B')) === 0);
    await eventually('badge empty', async () => (await h.read.badge('B')).length === 0);
    const reads = await eventually('A notified', () => {
      const u = h.out.updatesFor('A', 'MessageStatusUpdate');
      return u.length > 0 ? u : undefined;
    });
    // Give any extra updates time to show up, then check there was exactly one.
    await new Promise((r) => setTimeout(r, 1000));
    expect(h.out.updatesFor('A', 'MessageStatusUpdate')).toHaveLength(1);
    expect(reads[0]!.payload).toEqual({
      'dev.ticks.MessageStatusUpdate': {
        conversation_id: c,
        message_id: 'm5',
        seq: 5,
        status: 'READ',
        by: 'B',
      },
    });
    // B's other devices learn the new counts.
    const sync = await eventually('sync to B', () => h.out.updatesFor('B', 'UnreadSync')[0]);
    expect(sync.payload).toEqual({
      'dev.ticks.UnreadSync': {
        conversation_id: c,
        unread_count: 0,
        badge_count: 0,
        read_up_to_seq: 5,
        origin_device_id: 'phone',
      },
    });
    // The changelog carries the applied effects, for the persister.
    const changes = await eventually('changelog', () => {
      const wm = h.out.stateChanges.filter((s) => 'dev.ticks.WatermarkAdvanced' in s.change);
      return wm.length > 0 ? wm : undefined;
    });
    expect(changes.map((s) => s.change)).toContainEqual({
      'dev.ticks.WatermarkAdvanced': expect.objectContaining({
        user_id: 'B',
        read_seq: 5,
        delivered_seq: 5,
      }),
    });
    expect(h.out.stateChanges.filter((s) => 'dev.ticks.MessageSent' in s.change)).toHaveLength(5);
  });

  it('a reply reads what came before it: the peer hears READ of its newest message once, no receipt needed', async () => {
    const c = 'dm-reply';
    h.publish.memberAdded(c, 'Ann', 'DIRECT').memberAdded(c, 'Ben', 'DIRECT');
    h.publish
      .messageSent(c, { messageId: 'r1', seq: 1, senderId: 'Ann', kind: 'DIRECT' })
      .messageSent(c, { messageId: 'r2', seq: 2, senderId: 'Ann', kind: 'DIRECT' });
    await h.publish.flush();
    await eventually('unread 2', async () => (await h.read.unread(c, 'Ben')) === 2);
    // Ben answers without his client sending a read receipt.
    h.publish.messageSent(c, { messageId: 'r3', seq: 3, senderId: 'Ben', kind: 'DIRECT' });
    await h.publish.flush();
    const told = await eventually(
      'Ann told',
      () => h.out.updatesFor('Ann', 'MessageStatusUpdate')[0],
    );
    expect(told.payload).toEqual({
      'dev.ticks.MessageStatusUpdate': {
        conversation_id: c,
        message_id: 'r2',
        seq: 2,
        status: 'READ',
        by: 'Ben',
      },
    });
    // The receipt that comes after tells nothing new.
    h.publish.read(c, 'Ben', { seq: 3 });
    await h.publish.flush();
    await eventually('Ben read', async () => (await h.read.watermark(c, 'Ben')) === 3);
    await new Promise((r) => setTimeout(r, 500));
    expect(h.out.updatesFor('Ann', 'MessageStatusUpdate')).toHaveLength(1);
  });

  it('a burst of five messages from one sender, read twice: two badge writes, each a real change', async () => {
    const c = 'dm-burst';
    const { metrics } = h.pipeline;
    const writes = () => metrics.total(metrics.mainBadgeWrites, { conversation_kind: 'direct' });
    const changes = () => metrics.total(metrics.badgeChanges);
    h.publish.memberAdded(c, 'S', 'DIRECT').memberAdded(c, 'R', 'DIRECT');
    await h.publish.flush();
    const before = await writes();
    const changesBefore = await changes();
    // One message per batch: only the auxiliary marks can spare the main Redis the later ones.
    for (let seq = 1; seq <= 5; seq++) {
      h.publish.messageSent(c, { messageId: `b${seq}`, seq, senderId: 'S', kind: 'DIRECT' });
      await h.publish.flush();
      // Its changelog record goes out after the step's effects, badges included.
      await eventually(`b${seq} applied`, () =>
        h.out.stateChanges.some(
          (x) => x.conversation_id === c && JSON.stringify(x.change).includes(`"b${seq}"`),
        ),
      );
      // The first message adds S to R's badge; S had nothing unread, so R is not in S's badge
      // and nothing is removed from it.
      expect((await writes()) - before).toBe(1);
    }
    expect(await h.read.badge('R')).toEqual(['S']);
    // Read to the end, then again from another device: one removal reaches the main Redis.
    for (const device of ['phone', 'laptop']) {
      h.publish.read(c, 'R', { seq: 5 }, device);
      await h.publish.flush();
      await eventually(`sync to ${device}`, () =>
        h.out.updatesFor('R', 'UnreadSync').find((u) => {
          const payload = u.payload as Record<string, { origin_device_id?: string }>;
          return payload['dev.ticks.UnreadSync']?.origin_device_id === device;
        }),
      );
    }
    expect(await h.read.badge('R')).toEqual([]);
    expect((await writes()) - before).toBe(2);
    expect((await changes()) - changesBefore).toBe(2);
  });
});
