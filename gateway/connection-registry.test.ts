import { ConnectionRegistry, type PushSocket } from './connection-registry';

class FakeSocket implements PushSocket {
  bufferedAmount = 0;
  sent: string[] = [];
  terminated = false;
  send(data: Buffer, options: { binary: false }): void {
    expect(options.binary).toBe(false);
    this.sent.push(data.toString());
  }
  close(): void {}
  terminate(): void {
    this.terminated = true;
  }
}

describe('ConnectionRegistry', () => {
  it('lists each connected device once, of the users asked', () => {
    const registry = new ConnectionRegistry(1024);
    registry.add('u', 'phone', new FakeSocket());
    registry.add('u', 'phone', new FakeSocket());
    registry.add('u', 'laptop', new FakeSocket());
    registry.add('v', 'phone', new FakeSocket());
    expect(registry.devices()).toEqual([
      { userId: 'u', deviceId: 'phone' },
      { userId: 'u', deviceId: 'laptop' },
      { userId: 'v', deviceId: 'phone' },
    ]);
    expect(registry.devices((userId) => userId === 'v')).toEqual([
      { userId: 'v', deviceId: 'phone' },
    ]);
  });

  it("says when a device's first connection opens and its last closes", () => {
    const registry = new ConnectionRegistry(1024);
    const a = registry.add('u', 'phone', new FakeSocket());
    const b = registry.add('u', 'phone', new FakeSocket());
    const c = registry.add('u', 'laptop', new FakeSocket());
    expect([a.firstOfDevice, b.firstOfDevice, c.firstOfDevice]).toEqual([true, false, true]);
    expect(registry.connectionsOf('u')).toHaveLength(3);
    expect(registry.remove(a.connection)).toEqual({ removed: true, lastOfDevice: false });
    expect(registry.remove(a.connection)).toEqual({ removed: false, lastOfDevice: false });
    expect(registry.remove(b.connection)).toEqual({ removed: true, lastOfDevice: true });
    expect(registry.remove(c.connection)).toEqual({ removed: true, lastOfDevice: true });
    expect(registry.users).toBe(0);
  });

  it('drops a socket whose send buffer would pass the bound instead of queueing more', () => {
    const registry = new ConnectionRegistry(100);
    const socket = new FakeSocket();
    const { connection } = registry.add('u', 'phone', socket);
    expect(registry.deliver(connection, Buffer.from('x'.repeat(60)))).toBe('sent');
    socket.bufferedAmount = 60; // the client is not reading
    expect(registry.deliver(connection, Buffer.from('x'.repeat(60)))).toBe('dropped');
    expect(socket.terminated).toBe(true);
    expect(socket.sent).toHaveLength(1);
    expect(registry.deliver(connection, Buffer.from('y'), true)).toBe('skipped');
  });
});
