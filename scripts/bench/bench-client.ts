import WebSocket from 'ws';

/** A push frame as the bench reads it (the update id says which run it belongs to). */
export interface PushFrame {
  update_id?: string;
  emitted_at?: number;
}

/** One client connection to the gateway: counts what it reads and hands each frame on. */
export class BenchClient {
  received = 0;
  closed = false;

  private constructor(readonly ws: WebSocket) {}

  /** Resolves once the gateway's hello arrived. */
  static open(url: string, onFrame: (frame: PushFrame) => void) {
    return new Promise<BenchClient>((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      const client = new BenchClient(ws);
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`gateway refused the upgrade: HTTP ${res.statusCode}`)),
      );
      ws.once('error', reject);
      ws.once('close', () => (client.closed = true));
      ws.on('message', (data: Buffer) => {
        client.received++;
        if (client.received === 1) return resolve(client); // hello
        onFrame(JSON.parse(data.toString()) as PushFrame);
      });
    });
  }

  /** Closes (or, after 5 s without the close handshake, terminates) the connection. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 5000);
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.close();
    });
  }
}
