import type { OutboundRecord, RecordProducer } from '../kafka/types';
import { OutputSink } from './output-sink';

/** Records what the sink asks the producer to send, request by request. */
class RecordingProducer implements RecordProducer {
  readonly requests: string[][] = [];
  async send(records: OutboundRecord[]): Promise<void> {
    this.requests.push(records.map((r) => String(r.key)));
    await new Promise((r) => setTimeout(r, 5));
  }
  async close(): Promise<void> {}
}

const record = (key: string): OutboundRecord => ({ topic: 't', key, value: null });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('OutputSink', () => {
  it('without linger, sends the first step at once and gathers what comes while it is in flight', async () => {
    const producer = new RecordingProducer();
    const sink = new OutputSink(producer);
    const sent = [sink.send([record('a')]), sink.send([record('b')]), sink.send([record('c')])];
    await Promise.all(sent);
    expect(producer.requests).toEqual([['a'], ['b', 'c']]);
  });

  it('with linger, gathers the steps handed over within it into one request, in order', async () => {
    const producer = new RecordingProducer();
    // A long linger against 10 ms gaps: timer delays on a busy machine cannot split the request.
    const sink = new OutputSink(producer, 500);
    const sent = [sink.send([record('a')])];
    await sleep(10);
    sent.push(sink.send([record('b'), record('c')]));
    await sleep(10);
    sent.push(sink.send([record('d')]));
    await Promise.all(sent);
    expect(producer.requests).toEqual([['a', 'b', 'c', 'd']]);
  });

  it('resolves a step only once its request was acknowledged, and rejects it when it failed', async () => {
    const failing: RecordProducer = {
      send: () => Promise.reject(new Error('broker said no')),
      close: async () => {},
    };
    const sink = new OutputSink(failing, 5);
    await expect(sink.send([record('a')])).rejects.toThrow('broker said no');
  });
});
