import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { TokenService } from '../auth/token-service';
import { CLOSE_TOO_MANY_CONNECTIONS, CLOSE_UNAUTHENTICATED } from '../gateway/push-gateway';
import { TicksHttpServer } from '../services/ticks-http-server';
import { OfflineBatcher } from '../services/offline-batcher';
import { createHarness, eventually, type Harness } from './support/harness';
import { capturedLogger } from './support/captured-logger';
import { TestSocket } from './support/ws-client';
import { startApiServer } from './support/api-server';

/** The push gateway and the offline batcher on the real stack, through real WebSockets. */
describe('push gateway and offline batches', () => {
  let h: Harness;
  let server: TicksHttpServer;
  let batcher: OfflineBatcher;
  const sockets: TestSocket[] = [];
  const serverLog = capturedLogger('info');
  const connect = async (user: string, device: string) => {
    const token = server.tokens.issue(user, device);
    const socket = await TestSocket.open(
      `${server.url.replace('http', 'ws')}/v1/updates?access_token=${token}`,
    );
    sockets.push(socket);
    await socket.waitFor('hello', (m) => m.type === 'hello');
    return socket;
  };

  beforeAll(async () => {
    h = await createHarness({ TICKS_GATEWAY_MAX_CONNECTIONS_PER_USER: '3' });
    const logger = pino({ level: 'warn' });
    batcher = new OfflineBatcher({
      config: h.config,
      logger,
      codec: h.codec,
      groupId: `${h.config.kafka.groupId}-offline`,
    });
    await batcher.start();
    server = await startApiServer(h, {
      logger: serverLog.logger,
    });
  });

  afterAll(async () => {
    for (const s of sockets) s.ws.terminate();
    await server?.stop();
    await batcher?.stop();
    await h?.kafka.withAdmin((a) => a.deleteGroup(`${h.config.kafka.groupId}-offline`));
    await h?.close();
  });

  async function directChat(c: string, sender: string, peer: string, messages: number) {
    h.publish.memberAdded(c, sender, 'DIRECT').memberAdded(c, peer, 'DIRECT');
    for (let seq = 1; seq <= messages; seq++)
      h.publish.messageSent(c, { messageId: `${c}-${seq}`, seq, senderId: sender, kind: 'DIRECT' });
    await h.publish.flush();
    await eventually(`${c} indexed`, async () => (await h.read.unread(c, peer)) === messages);
  }

  it('refuses an upgrade without a valid token (401)', async () => {
    await expect(TestSocket.open(`${server.url.replace('http', 'ws')}/v1/updates`)).rejects.toThrow(
      'upgrade refused: 401',
    );
  });

  it('logs the upgrade requests at info level without their query-string tokens', async () => {
    const token = server.tokens.issue('Lana', 'phone');
    const socket = await TestSocket.open(
      `${server.url.replace('http', 'ws')}/v1/updates?access_token=${token}&device=phone`,
    );
    sockets.push(socket);
    await socket.waitFor('hello', (m) => m.type === 'hello');
    await expect(
      TestSocket.open(`${server.url.replace('http', 'ws')}/v1/updates?access_token=${token}x`),
    ).rejects.toThrow('upgrade refused: 401');
    await socket.close();
    const log = serverLog.lines.join('\n');
    expect(log).toContain('/v1/updates?access_token=[REDACTED]&device=phone');
    expect(log).not.toContain(token);
  });

  it('closes a connection beyond TICKS_GATEWAY_MAX_CONNECTIONS_PER_USER (4429); others are served', async () => {
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await connect('Many', `device-${i}`));
    const extra = await TestSocket.open(
      `${server.url.replace('http', 'ws')}/v1/updates?access_token=${server.tokens.issue('Many', 'device-3')}`,
    );
    sockets.push(extra);
    expect(await extra.closed).toEqual({
      code: CLOSE_TOO_MANY_CONNECTIONS,
      reason: expect.stringContaining('TICKS_GATEWAY_MAX_CONNECTIONS_PER_USER'),
    });
    expect(extra.messages).toEqual([]); // not even a hello
    await held[0]!.close();
    await eventually('a place freed', async () => {
      const again = await connect('Many', 'device-4');
      return again !== undefined;
    });
  });

  it('closes a connection when its token expires (4401, "token expired")', async () => {
    const shortLived = new TokenService({
      secret: h.config.auth.secret,
      ttlSeconds: 2,
      maxLifetimeSeconds: 2,
    });
    const socket = await TestSocket.open(
      `${server.url.replace('http', 'ws')}/v1/updates?access_token=${shortLived.issue('Exa', 'phone')}`,
    );
    sockets.push(socket);
    await socket.waitFor('hello', (m) => m.type === 'hello');
    const opened = Date.now();
    const closed = await Promise.race([
      socket.closed,
      new Promise((resolve) => setTimeout(() => resolve('still open after 8 s'), 8000)),
    ]);
    expect(closed).toEqual({ code: CLOSE_UNAUTHENTICATED, reason: 'token expired' });
    expect(Date.now() - opened).toBeLessThan(4000);
  });

  it('direct chat: the sender gets the read at once; the reader’s other device gets the unread sync, the reading device does not', async () => {
    const c = 'gw-dm';
    const ana = await connect('Ana', 'phone');
    const boPhone = await connect('Bo', 'phone');
    const boLaptop = await connect('Bo', 'laptop');
    await directChat(c, 'Ana', 'Bo', 2);
    h.publish.read(c, 'Bo', { seq: 2 }, 'phone');
    await h.publish.flush();

    const update = await ana.waitFor('read update', (m) => m.type === 'message_status');
    expect(update).toMatchObject({
      type: 'message_status',
      conversation_id: c,
      message_id: `${c}-2`,
      seq: 2,
      status: 'READ',
      by: 'Bo',
      update_id: expect.any(String),
      version: expect.any(Number),
    });
    const sync = await boLaptop.waitFor('unread sync', (m) => m.type === 'unread_sync');
    expect(sync).toMatchObject({ conversation_id: c, unread_count: 0, read_up_to_seq: 2 });
    await new Promise((r) => setTimeout(r, 500));
    expect(boPhone.messages.filter((m) => m.type === 'unread_sync')).toEqual([]);
  });

  it('group: the sender gets one summary when the window closes', async () => {
    const g = 'gw-group';
    const ana = await connect('Gana', 'phone');
    for (const m of ['Gana', 'Gbo', 'Gcy']) h.publish.memberAdded(g, m, 'GROUP');
    h.publish.messageSent(g, { messageId: 'g1', seq: 1, senderId: 'Gana', kind: 'GROUP' });
    await h.publish.flush();
    await eventually('indexed', async () => (await h.read.unread(g, 'Gcy')) === 1);
    h.publish.read(g, 'Gbo', { seq: 1 }).read(g, 'Gcy', { seq: 1 });
    await h.publish.flush();
    const summary = await ana.waitFor('group summary', (m) => m.type === 'group_sender_summary');
    expect(summary).toMatchObject({
      conversation_id: g,
      messages: [
        { message_id: 'g1', seq: 1, status: 'READ', read_count: 2, delivered_count: 2, total: 2 },
      ],
    });
  });

  it('offline: updates are coalesced while the sender is away and arrive as one batch on reconnect', async () => {
    const c = 'gw-offline';
    const first = await connect('Oana', 'phone');
    await eventually('Oana online', async () =>
      (await batcher.store.onlineDevices('Oana')).includes('phone'),
    );
    await first.close();
    await eventually(
      'Oana offline',
      async () => (await batcher.store.onlineDevices('Oana')).length === 0,
    );

    await directChat(c, 'Oana', 'Obo', 3);
    h.publish.delivered(c, 'Obo', { messageIds: [`${c}-1`] });
    await h.publish.flush();
    await eventually('delivered kept', async () => (await batcher.store.keptCount('Oana')) === 1);
    h.publish.read(c, 'Obo', { seq: 2 });
    await h.publish.flush();
    h.publish.read(c, 'Obo', { seq: 3 });
    await h.publish.flush();
    await eventually('reads kept', async () => (await batcher.store.keptCount('Oana')) === 3);

    const again = await connect('Oana', 'phone');
    const batch = await again.waitFor('offline batch', (m) => m.type === 'offline_batch');
    const updates = batch.updates as Array<Record<string, unknown>>;
    expect(updates.map((u) => [u.type, u.message_id, u.status])).toEqual([
      ['message_status', `${c}-1`, 'DELIVERED'],
      ['message_status', `${c}-2`, 'READ'],
      ['message_status', `${c}-3`, 'READ'],
    ]);
    await eventually('batch forgotten', async () => (await batcher.store.keptCount('Oana')) === 0);
    // Live again: the next update is pushed directly, not kept.
    h.publish.messageSent(c, { messageId: `${c}-4`, seq: 4, senderId: 'Oana', kind: 'DIRECT' });
    h.publish.read(c, 'Obo', { seq: 4 });
    await h.publish.flush();
    await again.waitFor('live update', (m) => m.type === 'message_status' && m.seq === 4);
    expect(await batcher.store.keptCount('Oana')).toBe(0);
    expect(again.messages.filter((m) => m.type === 'offline_batch')).toHaveLength(1);
  });

  it('offline: what was kept of a message deleted before the reconnect is not in the batch (issue 14)', async () => {
    const c = 'gw-offline-deleted';
    const g = 'gw-offline-deleted-group';
    const first = await connect('Dora', 'phone');
    await eventually('Dora online', async () =>
      (await batcher.store.onlineDevices('Dora')).includes('phone'),
    );
    await first.close();
    await eventually(
      'Dora offline',
      async () => (await batcher.store.onlineDevices('Dora')).length === 0,
    );

    await directChat(c, 'Dora', 'Dan', 2);
    for (const m of ['Dora', 'Dan', 'Dag']) h.publish.memberAdded(g, m, 'GROUP');
    for (const seq of [1, 2])
      h.publish.messageSent(g, { messageId: `${g}-${seq}`, seq, senderId: 'Dora', kind: 'GROUP' });
    await h.publish.flush();
    await eventually(`${g} indexed`, async () => (await h.read.unread(g, 'Dan')) === 2);
    h.publish.delivered(c, 'Dan', { messageIds: [`${c}-1`] });
    h.publish.read(c, 'Dan', { seq: 2 });
    h.publish.read(g, 'Dan', { seq: 2 });
    await h.publish.flush();
    // Two statuses, and the group window's counts of both messages once it closes.
    await eventually('kept', async () => (await batcher.store.keptCount('Dora')) === 4, 15_000);

    h.publish.messageDeleted(c, `${c}-2`, 'Dora').messageDeleted(g, `${g}-2`, 'Dora');
    await h.publish.flush();
    const deleted = (conversation: string, id: string) =>
      h.redis.hexists(h.keys.conversationKey(conversation, 'deleted'), id);
    await eventually(
      'both deleted',
      async () => (await deleted(c, `${c}-2`)) === 1 && (await deleted(g, `${g}-2`)) === 1,
    );

    const again = await connect('Dora', 'phone');
    const batch = await again.waitFor('offline batch', (m) => m.type === 'offline_batch');
    const updates = batch.updates as Array<Record<string, unknown>>;
    expect(updates).toEqual([
      expect.objectContaining({ type: 'message_status', message_id: `${c}-1` }),
      expect.objectContaining({
        type: 'group_sender_summary',
        conversation_id: g,
        messages: [expect.objectContaining({ message_id: `${g}-1` })],
      }),
    ]);
    expect(JSON.stringify(updates)).not.toMatch(/-2"/);
    await eventually('batch forgotten', async () => (await batcher.store.keptCount('Dora')) === 0);
  });

  it('a gateway killed without a word: its devices stay online while it renews their leases, and go offline within one lease after it died', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, '..', 'scripts', 'api.ts')],
      {
        env: {
          ...process.env,
          ...h.env,
          TICKS_API_PORT: String(port),
          TICKS_PRESENCE_LEASE_MS: '1500',
          TICKS_METRICS_PORT: '0',
          TICKS_LOG_LEVEL: 'error',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const token = server.tokens.issue('Gina', 'tablet');
      const socket = await eventually(
        'the gateway process listening',
        () => TestSocket.open(`ws://127.0.0.1:${port}/v1/updates?access_token=${token}`),
        60_000,
      );
      sockets.push(socket);
      await socket.waitFor('hello', (m) => m.type === 'hello');
      await eventually('Gina online', async () =>
        (await batcher.store.onlineDevices('Gina')).includes('tablet'),
      );
      // Two leases later she is still online: the gateway renewed her lease.
      await new Promise((r) => setTimeout(r, 3_000));
      expect(await batcher.store.onlineDevices('Gina')).toEqual(['tablet']);

      child.kill('SIGKILL'); // no OFFLINE goes out
      await exited;
      const killedAt = Date.now();
      await eventually(
        'Gina offline once her lease ended',
        async () => (await batcher.store.onlineDevices('Gina')).length === 0,
        10_000,
      );
      expect(Date.now() - killedAt).toBeLessThan(1_500 + 1_000);
    } finally {
      child.kill('SIGKILL');
    }
  }, 120_000);
});
