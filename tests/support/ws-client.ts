import WebSocket from 'ws';
import { eventually } from './harness';

/**
 * A WebSocket client for the gateway tests: collects the JSON text frames it receives. A binary
 * frame is not one (a browser would get a Blob): it is counted apart, never in `messages`.
 */
export class TestSocket {
  readonly messages: Array<Record<string, unknown>> = [];
  binaryFrames = 0;
  /** Resolves with the close frame's code and reason when the socket closes, whoever closed it. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.binaryFrames++;
      else this.messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  /** Opens a socket; rejects with the HTTP status when the upgrade is refused. */
  static open(url: string): Promise<TestSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const socket = new TestSocket(ws);
      ws.once('open', () => resolve(socket));
      ws.once('unexpected-response', (_request, response) =>
        reject(new Error(`upgrade refused: ${response.statusCode}`)),
      );
      ws.once('error', reject);
    });
  }

  /** The first frame (from now on, or already received) that matches. */
  waitFor(what: string, match: (m: Record<string, unknown>) => boolean, timeoutMs = 20_000) {
    return eventually(what, () => this.messages.find(match), timeoutMs);
  }

  async close(): Promise<void> {
    this.ws.close();
    await this.closed;
  }
}
