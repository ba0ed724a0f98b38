import fs from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { collectProcessMetrics } from './process-metrics';

/** Open sockets, as a gateway holds them: a server and `n` clients connected to it. */
async function openSockets(n: number): Promise<{ server: Server; sockets: Socket[] }> {
  let accepted!: () => void;
  const allAccepted = new Promise<void>((resolve) => (accepted = resolve));
  let count = 0;
  const server = createServer(() => {
    if (++count === n) accepted();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const sockets = Array.from({ length: n }, () => connect(port, '127.0.0.1'));
  await allAccepted;
  return { server, sockets };
}

describe('collectProcessMetrics', () => {
  it('scrapes without walking the open handles, and still counts open descriptors', async () => {
    const { server, sockets } = await openSockets(100);
    const registry = new Registry();
    collectProcessMetrics(registry);
    const p = process as unknown as { _getActiveHandles(): unknown[] };
    const handles = jest.spyOn(p, '_getActiveHandles');
    const resources = jest.spyOn(process, 'getActiveResourcesInfo');
    const readdirSync = jest.spyOn(fs, 'readdirSync');
    try {
      const text = await registry.metrics();
      expect(handles).not.toHaveBeenCalled();
      expect(resources).not.toHaveBeenCalled();
      expect(readdirSync).not.toHaveBeenCalled();
      expect(text).toMatch(/^ticks_process_cpu_seconds_total /m);
      expect(text).toMatch(/^ticks_nodejs_eventloop_lag_p99_seconds /m);
      expect(text).not.toMatch(/^ticks_nodejs_active_handles/m);
      if (process.platform === 'linux') {
        // Both ends of each connection are descriptors of this process.
        const fds = Number(/^ticks_process_open_fds (\d+)/m.exec(text)?.[1]);
        expect(fds).toBeGreaterThanOrEqual(2 * sockets.length);
      }
    } finally {
      handles.mockRestore();
      resources.mockRestore();
      readdirSync.mockRestore();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
