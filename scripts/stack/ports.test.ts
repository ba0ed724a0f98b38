import * as net from 'node:net';
import { isPortTaken, parseSsOwner } from './ports';

describe('isPortTaken', () => {
  it('is true while a server listens and false once it has closed', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    expect(await isPortTaken(port, '127.0.0.1')).toBe(true);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(await isPortTaken(port, '127.0.0.1')).toBe(false);
  });

  it('sees a server bound to all interfaces as taking the loopback port', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      expect(await isPortTaken(port, '127.0.0.1')).toBe(true);
    } finally {
      server.close();
    }
  });
});

describe('parseSsOwner', () => {
  it('reads the process name and pid of an `ss -ltnp` line', () => {
    const line = 'LISTEN 0 511 127.0.0.1:6379 0.0.0.0:* users:(("redis-server",pid=2205,fd=6))';
    expect(parseSsOwner(line)).toEqual({ name: 'redis-server', pid: 2205 });
    expect(parseSsOwner('LISTEN 0 128 0.0.0.0:2024 0.0.0.0:*')).toBeUndefined();
  });
});
