import pino from 'pino';
import { TicksHttpServer } from '../services/ticks-http-server';
import { groupSummaryUpdate } from '../scripts/bench/push-records';
import { createHarness, eventually, type Harness } from './support/harness';
import { TestSocket } from './support/ws-client';
import { startApiServer } from './support/api-server';

const MAX_BUFFERED = 64 * 1024;
/**
 * Frames published at once (~180 KB): within what a loopback connection's socket buffers and
 * the bound take together, so the reading device, handed them in one go, is not dropped.
 */
const BURST = 20;

/**
 * Back-pressure on the real stack: a client that stops reading while its user's updates keep
 * coming is dropped once its unsent bytes would pass TICKS_GATEWAY_MAX_BUFFERED_BYTES. The
 * gateway never holds more than that for it (sampled all along), and the user's device that
 * reads gets every update. A gateway that buffered without bound would keep the paused socket
 * and its buffer would pass the bound: both assertions would fail.
 */
describe('gateway: a slow consumer is dropped, its buffer bounded', () => {
  let h: Harness;
  let server: TicksHttpServer;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    h = await createHarness(
      { TICKS_GATEWAY_MAX_BUFFERED_BYTES: String(MAX_BUFFERED) },
      { startPipeline: false },
    );
    server = await startApiServer(h, {
      logger: pino({ level: 'error' }),
    });
  });

  afterAll(async () => {
    for (const s of sockets) s.ws.terminate();
    await server?.stop();
    await h?.close();
  });

  const connect = async (user: string, device: string) => {
    const token = server.tokens.issue(user, device);
    const socket = await TestSocket.open(
      `${server.url.replace('http', 'ws')}/v1/updates?access_token=${token}`,
    );
    sockets.push(socket);
    await socket.waitFor('hello', (m) => m.type === 'hello');
    return socket;
  };

  it('drops the paused socket, keeps within the bound meanwhile, serves the reading device', async () => {
    const reading = await connect('Slow', 'reading');
    let readingClosed = false;
    void reading.closed.then(() => (readingClosed = true));
    const paused = await connect('Slow', 'paused');
    paused.ws.pause();
    const gateway = server.gateway!;
    const pausedOnServer = () =>
      gateway.registry.connectionsOf('Slow').find((c) => c.deviceId === 'paused');
    const serverSocket = pausedOnServer()!.socket;
    // What the gateway holds for the socket right after each frame it hands to it.
    let mostBuffered = 0;
    const send = serverSocket.send.bind(serverSocket);
    serverSocket.send = (data, options) => {
      send(data, options);
      mostBuffered = Math.max(mostBuffered, serverSocket.bufferedAmount);
    };
    let sent = 0;
    try {
      // ~9 KB a frame: up to 60 MB, far past what the kernel's socket buffers take, or until dropped.
      while (pausedOnServer() && sent < 6500) {
        for (let i = 0; i < BURST; i++, sent++)
          h.publish.encoded(
            'receiptUpdates',
            'Slow',
            groupSummaryUpdate(`slow-${sent}`, 'Slow', sent),
          );
        await h.publish.flush();
        // The reading device reads in this process too. Under load the gateway's fetches piled
        // up and handed it hundreds of frames in one synchronous burst, more than its socket
        // takes, and it was dropped as slow as well: each burst waits for it to catch up. The
        // paused socket, which reads nothing, fills all the same.
        await eventually(
          'reading device caught up',
          async () => {
            if (readingClosed) throw new Error('the reading device was disconnected');
            return reading.messages.length === sent + 1;
          },
          30_000,
        );
      }
      await eventually('paused socket dropped', async () => pausedOnServer() === undefined, 30_000);
    } finally {
      serverSocket.send = send;
    }
    // The gateway never let its unsent bytes pass the bound (a frame that would is refused).
    expect(mostBuffered).toBeGreaterThan(MAX_BUFFERED / 2);
    expect(mostBuffered).toBeLessThanOrEqual(MAX_BUFFERED);
    // The reading device got every update, in order.
    await eventually(
      'reading device has every update',
      async () => reading.messages.length === sent + 1,
      30_000,
    );
    expect(reading.messages.slice(1).map((m) => m.update_id)).toEqual(
      Array.from({ length: sent }, (_, i) => `slow-${i}`),
    );
    // Reading again, the paused client finds its connection closed by the gateway.
    paused.ws.resume();
    expect((await paused.closed).code).toBe(1006);
    expect(gateway.registry.connectionsOf('Slow').map((c) => c.deviceId)).toEqual(['reading']);
  }, 120_000);
});
