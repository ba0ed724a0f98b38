import type { OutboundRecord, RecordProducer } from '../kafka/types';
import { LaneHeldBackError, OutputSink } from './output-sink';

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

  it('holds a lane back after its failed send: none of its later outputs overtakes the redo', async () => {
    // The first request fails (the broker away); every later one would succeed.
    const requests: string[][] = [];
    const producer: RecordProducer = {
      send: async (records) => {
        requests.push(records.map((r) => String(r.key)));
        await sleep(5);
        if (requests.length === 1) throw new Error('broker away');
      },
      close: async () => {},
    };
    const sink = new OutputSink(producer);
    const failed = sink.send([record('p1-step1')], undefined, 1);
    // Handed over while the failed request is in flight: step 2 of the same partition, and
    // another partition's step.
    const queued = sink.send([record('p1-step2')], undefined, 1);
    const other = sink.send([record('p2-step1')], undefined, 2);
    await expect(failed).rejects.toThrow('broker away');
    await expect(queued).rejects.toBeInstanceOf(LaneHeldBackError);
    await expect(other).resolves.toBe(true);
    // Handed over after the failure, before the partition was rewound: refused too.
    await expect(sink.send([record('p1-step3')], undefined, 1)).rejects.toThrow(
      'outputs of partition 1 held back',
    );
    // Rewound: the redo goes, in order.
    sink.resume(1);
    await expect(sink.send([record('p1-step1'), record('p1-step2')], undefined, 1)).resolves.toBe(
      true,
    );
    expect(requests).toEqual([['p1-step1'], ['p2-step1'], ['p1-step1', 'p1-step2']]);
  });
});
