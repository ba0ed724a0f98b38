import { parentPort } from 'node:worker_threads';
import { eachLimit } from '../../stores/cassandra/bounded-executor';
import { BenchClient, type PushFrame } from './bench-client';
import type { ClientThreadReply, ClientThreadRequest } from './client-thread';

/**
 * The bench's push clients on a thread of their own (see ClientThread): they time the frames of
 * the run under way, record → frame read, on their own event loop.
 */
const port = parentPort!;
const clients: BenchClient[] = [];
let prefix = '';
let timed: number[] = [];
const onFrame = (frame: PushFrame) => {
  if (prefix && frame.update_id?.startsWith(prefix)) timed.push(Date.now() - frame.emitted_at!);
};
const reply = (message: ClientThreadReply) => port.postMessage(message);

port.on('message', (request: ClientThreadRequest) => {
  void handle(request).catch((err: Error) => reply({ type: 'error', message: err.message }));
});

async function handle(request: ClientThreadRequest): Promise<void> {
  switch (request.type) {
    case 'open':
      await eachLimit(request.urls, request.parallel, async (url) => {
        clients.push(await BenchClient.open(url, onFrame));
      });
      return reply({ type: 'opened', connections: clients.length });
    case 'time':
      prefix = request.prefix;
      timed = [];
      return reply({ type: 'timing' });
    case 'count':
      return reply({ type: 'count', frames: timed.length });
    case 'collect':
      return reply({ type: 'latencies', values: timed });
    case 'close':
      await Promise.all(clients.map((c) => c.close()));
      return reply({ type: 'closed' });
  }
}
