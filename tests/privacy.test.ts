import pino from 'pino';
import { SettingsTable, SettingsUnknownError } from '../processors/privacy/settings-table';
import { AvroCodec } from '../schemas/avro-codec';
import { createHarness, eventually, type Harness } from './support/harness';
import { TcpProxy } from './support/tcp-proxy';

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

  it('direct chat: a reply from a reader who opted out tells delivered, never read', async () => {
    const c = 'dm-quiet-reply';
    h.publish.memberAdded(c, 'Loud2', 'DIRECT').memberAdded(c, 'Quiet', 'DIRECT');
    h.publish.messageSent(c, { messageId: 'qr1', seq: 1, senderId: 'Loud2', kind: 'DIRECT' });
    h.publish.messageSent(c, { messageId: 'qr2', seq: 2, senderId: 'Quiet', kind: 'DIRECT' });
    await h.publish.flush();
    const update = await eventually(
      'Loud2 told',
      () => h.out.updatesFor('Loud2', 'MessageStatusUpdate')[0],
    );
    expect(update.payload).toMatchObject({
      'dev.ticks.MessageStatusUpdate': { message_id: 'qr1', status: 'DELIVERED', by: 'Quiet' },
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(JSON.stringify(h.out.updatesFor('Loud2'))).not.toContain('"READ"');
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

describe('privacy: a settings record that cannot be decoded is never taken as "shares reads"', () => {
  let h: Harness;
  const logger = pino({ level: 'silent' });
  beforeAll(async () => {
    h = await createHarness({}, { startPipeline: false });
    // Shy's opt-out, written with a schema the registry does not know: before the fix the table
    // skipped it, so Shy shared reads.
    const unknownSchemaId = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 2, 4, 6]);
    h.publish.raw('userSettings', 'Shy', unknownSchemaId);
    await h.publish.flush();
    await h.startPipeline();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('the reader’s receipts wait (their steps fail and are retried) until a readable record says what to do; the sender never hears "read"', async () => {
    const c = 'dm-shy';
    h.publish.memberAdded(c, 'Loud', 'DIRECT').memberAdded(c, 'Shy', 'DIRECT');
    h.publish.messageSent(c, { messageId: 's1', seq: 1, senderId: 'Loud', kind: 'DIRECT' });
    await h.publish.flush();
    await eventually('indexed', async () => (await h.read.unread(c, 'Shy')) === 1);
    const retries = async () =>
      (await h.pipeline.metrics.registry.getSingleMetric('ticks_step_retries_total')!.get()).values
        .map((v) => v.value)
        .reduce((a, b) => a + b, 0);
    const before = await retries();

    h.publish.read(c, 'Shy', { seq: 1 });
    await h.publish.flush();
    await eventually(
      'the step failing (or Loud told)',
      async () => (await retries()) >= before + 2 || h.out.updatesFor('Loud').length > 0,
    );
    expect(h.out.updatesFor('Loud')).toEqual([]);
    expect(await h.read.unread(c, 'Shy')).toBe(1);

    h.publish.settings('Shy', false); // a readable record replaces the unreadable one
    await h.publish.flush();
    await eventually('unread cleared', async () => (await h.read.unread(c, 'Shy')) === 0);
    await eventually('Loud told', () => h.out.updatesFor('Loud', 'MessageStatusUpdate')[0]);
    await new Promise((r) => setTimeout(r, 500));
    expect(JSON.stringify(h.out.updatesFor('Loud'))).not.toContain('"READ"');
  });

  it('a registry outage at start: the table retries, every setting counts as unknown past the bound, and it loads once the registry is back', async () => {
    const registry = new URL(h.config.registryUrl);
    const proxy = await TcpProxy.start(registry.hostname, Number(registry.port));
    await proxy.cut();
    const url = new URL(h.config.registryUrl);
    url.port = String(proxy.port);
    // A codec of its own: nothing cached, every schema id goes to the (unreachable) registry.
    const codec = AvroCodec.connect({ url: url.toString().replace(/\/$/, '') });
    const table = new SettingsTable(h.kafka, codec, h.topics.userSettings, logger, {
      initialMs: 50,
      maxMs: 200,
      unknownAfterMs: 1000,
    });
    const groupId = `ticks-test-${h.id}-settings-outage`;
    const started = table.start(groupId, 30_000);
    try {
      const unknown = await eventually('every setting unknown', () => {
        try {
          table.sharesReads('Anyone');
          return false;
        } catch (err) {
          return err;
        }
      });
      expect(unknown).toBeInstanceOf(SettingsUnknownError);
      expect((unknown as Error).message).toMatch(
        /read receipts setting of user Anyone is not known: the user_settings record at .* cannot be decoded yet \(Schema registry not reachable/,
      );
      expect(table.knownToShareReads('Anyone')).toBe(false);

      await proxy.restore();
      await started;
      expect(table.sharesReads('Shy')).toBe(false);
      expect(table.sharesReads('Anyone')).toBe(true);
    } finally {
      await proxy.restore();
      await started.catch(() => undefined);
      await table.stop();
      await proxy.close();
    }
  });
});
