import path from 'node:path';
import { Worker } from 'node:worker_threads';

export type ClientThreadRequest =
  | { type: 'open'; urls: string[]; parallel: number }
  | { type: 'time'; prefix: string }
  | { type: 'count' }
  | { type: 'collect' }
  | { type: 'close' };

export type ClientThreadReply =
  | { type: 'opened'; connections: number }
  | { type: 'timing' }
  | { type: 'count'; frames: number }
  | { type: 'latencies'; values: number[] }
  | { type: 'closed' }
  | { type: 'error'; message: string };

type Answer<T extends ClientThreadReply['type']> = Extract<ClientThreadReply, { type: T }>;

/**
 * The push clients of the gateway load on a worker thread: the clients of a real gateway are
 * other devices, and here the bench's main thread produces the records, so a pause of its
 * event loop (a major GC of its heap, a produce) would be timed as the gateway's. The worker
 * has its own event loop and heap; requests are answered in order.
 */
export class ClientThread {
  private readonly pending: Array<(reply: ClientThreadReply) => void> = [];

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: ClientThreadReply) => this.pending.shift()?.(reply));
    worker.on('error', (err) => {
      for (const answer of this.pending.splice(0)) answer({ type: 'error', message: err.message });
    });
  }

  /** A thread holding a connection to each of `urls` (opened `parallel` at a time). */
  static async open(urls: string[], parallel: number): Promise<ClientThread> {
    // The worker runs this directory's TypeScript through tsx, as the bench itself does.
    const script = path.join(__dirname, 'client-thread-worker.ts');
    const boot = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(script)});`;
    const thread = new ClientThread(new Worker(boot, { eval: true }));
    await thread.ask({ type: 'open', urls, parallel }, 'opened');
    return thread;
  }

  /** Times the frames whose update id starts with `prefix` from now on (and only those). */
  async time(prefix: string): Promise<void> {
    await this.ask({ type: 'time', prefix }, 'timing');
  }

  /** Frames timed since `time`. */
  async frames(): Promise<number> {
    return (await this.ask({ type: 'count' }, 'count')).frames;
  }

  /** Record → frame read, ms, of the frames timed since `time`. */
  async latencies(): Promise<number[]> {
    return (await this.ask({ type: 'collect' }, 'latencies')).values;
  }

  async close(): Promise<void> {
    await this.ask({ type: 'close' }, 'closed');
    await this.worker.terminate();
  }

  private ask<T extends ClientThreadReply['type']>(
    request: ClientThreadRequest,
    expected: T,
  ): Promise<Answer<T>> {
    return new Promise((resolve, reject) => {
      this.pending.push((reply) => {
        if (reply.type === expected) resolve(reply as Answer<T>);
        else
          reject(
            new Error(
              `the bench's client thread failed: ${reply.type === 'error' ? reply.message : `answered ${reply.type}`}`,
            ),
          );
      });
      this.worker.postMessage(request);
    });
  }
}
