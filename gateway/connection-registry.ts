/** The part of a WebSocket the registry needs (ws's WebSocket has it). */
export interface PushSocket {
  readonly bufferedAmount: number;
  /** A text frame of UTF-8 bytes (encoded once for all of a user's devices). */
  send(data: Buffer, options: { binary: false }): void;
  /** Closes with the WebSocket closing handshake. */
  close(code?: number, reason?: string): void;
  /** Drops the connection at once, without the closing handshake (for a socket that cannot keep up). */
  terminate(): void;
}

export interface Connection {
  id: number;
  userId: string;
  deviceId: string;
  socket: PushSocket;
}

const TEXT_FRAME = { binary: false } as const;

export type DeliveryOutcome = 'sent' | 'skipped' | 'dropped';

/**
 * The open connections of this gateway instance, by user (several devices, and several
 * connections of one device). Says when a device's first connection opens and its last closes,
 * which is when presence changes. Back-pressure: a socket whose unsent bytes would pass
 * `maxBufferedBytes` is dropped rather than buffered without bound.
 */
export class ConnectionRegistry {
  private readonly byUser = new Map<string, Set<Connection>>();
  private nextId = 1;
  private count = 0;

  constructor(private readonly maxBufferedBytes: number) {}

  /** Open connections (kept as a count: every open and close reports it). */
  get size(): number {
    return this.count;
  }

  get users(): number {
    return this.byUser.size;
  }

  /** Adds a connection; `firstOfDevice` when no other connection of that device was open. */
  add(
    userId: string,
    deviceId: string,
    socket: PushSocket,
  ): { connection: Connection; firstOfDevice: boolean } {
    const connection: Connection = { id: this.nextId++, userId, deviceId, socket };
    let set = this.byUser.get(userId);
    if (!set) this.byUser.set(userId, (set = new Set()));
    const firstOfDevice = ![...set].some((c) => c.deviceId === deviceId);
    set.add(connection);
    this.count++;
    return { connection, firstOfDevice };
  }

  /** Removes a connection (idempotent); `lastOfDevice` when it was that device's last one. */
  remove(connection: Connection): { removed: boolean; lastOfDevice: boolean } {
    const set = this.byUser.get(connection.userId);
    if (!set || !set.delete(connection)) return { removed: false, lastOfDevice: false };
    this.count--;
    if (set.size === 0) this.byUser.delete(connection.userId);
    const lastOfDevice = ![...set].some((c) => c.deviceId === connection.deviceId);
    return { removed: true, lastOfDevice };
  }

  connectionsOf(userId: string): Connection[] {
    const set = this.byUser.get(userId);
    return set ? [...set] : [];
  }

  /** Each connected device once (a device may have several connections), of the users asked. */
  devices(ofUser: (userId: string) => boolean = () => true): Array<{
    userId: string;
    deviceId: string;
  }> {
    const out: Array<{ userId: string; deviceId: string }> = [];
    for (const [userId, set] of this.byUser)
      if (ofUser(userId))
        for (const deviceId of new Set([...set].map((c) => c.deviceId)))
          out.push({ userId, deviceId });
    return out;
  }

  all(): Connection[] {
    return [...this.byUser.values()].flatMap((set) => [...set]);
  }

  /**
   * Sends `text` to one connection unless `skip` says that device needs no copy; drops the
   * connection (terminates it: the caller removes it) when its send buffer is full.
   */
  deliver(connection: Connection, text: Buffer, skip = false): DeliveryOutcome {
    if (skip) return 'skipped';
    if (connection.socket.bufferedAmount + text.length > this.maxBufferedBytes) {
      connection.socket.terminate();
      return 'dropped';
    }
    connection.socket.send(text, TEXT_FRAME);
    return 'sent';
  }
}
