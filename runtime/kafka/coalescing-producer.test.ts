import { CoalescingRecordProducer } from './coalescing-producer';
import { KafkaSendTimeoutError } from './errors';
import type { OutboundRecord, RecordProducer } from './types';

/** A producer under test control: each send waits until the test settles it. */
class HeldProducer implements RecordProducer {
  readonly sends: Array<{ records: OutboundRecord[]; settle(err?: Error): void }> = [];
  closed = false;

  send(records: OutboundRecord[]): Promise<void> {
    return new Promise((resolve, reject) =>
      this.sends.push({ records, settle: (err) => (err ? reject(err) : resolve()) }),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const record = (key: string): OutboundRecord => ({ topic: 't', key, value: Buffer.from(key) });
const keys = (s: { records: OutboundRecord[] }) => s.records.map((r) => r.key);
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('CoalescingRecordProducer', () => {
  it('sends at once when idle, and what comes meanwhile together in the next request', async () => {
    const inner = new HeldProducer();
    const producer = new CoalescingRecordProducer(inner);
    const done: string[] = [];
    const send = (key: string) => producer.send([record(key)]).then(() => done.push(key));
    const first = send('a');
    expect(inner.sends.map(keys)).toEqual([['a']]);
    const rest = [send('b'), send('c'), send('d')];
    expect(inner.sends).toHaveLength(1); // b, c, d wait for a

    inner.sends[0]!.settle();
    await first;
    await tick();
    expect(inner.sends.map(keys)).toEqual([['a'], ['b', 'c', 'd']]);
    expect(done).toEqual(['a']); // b, c, d resolve only when their own request is acknowledged

    inner.sends[1]!.settle();
    await Promise.all(rest);
    expect(done).toEqual(['a', 'b', 'c', 'd']);
  });

  it('fails every send of a failed request, and goes on with the next', async () => {
    const inner = new HeldProducer();
    const producer = new CoalescingRecordProducer(inner);
    const a = producer.send([record('a')]);
    const b = producer.send([record('b')]);
    const c = producer.send([record('c')]);
    inner.sends[0]!.settle();
    await a;
    await tick();
    inner.sends[1]!.settle(new Error('broker gone'));
    await expect(b).rejects.toThrow('broker gone');
    await expect(c).rejects.toThrow('broker gone');
    const d = producer.send([record('d')]);
    expect(inner.sends.map(keys)).toEqual([['a'], ['b', 'c'], ['d']]);
    inner.sends[2]!.settle();
    await expect(d).resolves.toBeUndefined();
  });

  it('keeps up to maxInFlight requests under way', () => {
    const inner = new HeldProducer();
    const producer = new CoalescingRecordProducer(inner, { maxInFlight: 2 });
    void producer.send([record('a')]);
    void producer.send([record('b')]);
    void producer.send([record('c')]);
    void producer.send([record('d')]);
    expect(inner.sends.map(keys)).toEqual([['a'], ['b']]);
  });

  it('closes the producer under it only after the sends made before', async () => {
    const inner = new HeldProducer();
    const producer = new CoalescingRecordProducer(inner);
    const a = producer.send([record('a')]);
    const b = producer.send([record('b')]);
    const closing = producer.close();
    await tick();
    expect(inner.closed).toBe(false);
    inner.sends[0]!.settle();
    await a;
    await tick();
    expect(inner.closed).toBe(false);
    inner.sends[1]!.settle();
    await Promise.all([b, closing]);
    expect(inner.closed).toBe(true);
  });

  it('bounds the wait of each send from its own call, waiting behind a request included', async () => {
    jest.useFakeTimers();
    try {
      const inner = new HeldProducer();
      const producer = new CoalescingRecordProducer(inner, {
        timeout: { ms: 1000, brokers: ['k:9092'] },
      });
      const a = producer.send([record('a')]);
      const b = producer.send([record('b')]);
      const failedA = expect(a).rejects.toBeInstanceOf(KafkaSendTimeoutError);
      const failedB = expect(b).rejects.toThrow(/within 1000 ms/);
      jest.advanceTimersByTime(1000);
      await failedA;
      await failedB;
      // b timed out while queued: it is not sent when a's request settles.
      inner.sends[0]!.settle();
      await Promise.resolve();
      await Promise.resolve();
      expect(inner.sends.map(keys)).toEqual([['a']]);
      const c = producer.send([record('c')]);
      await Promise.resolve();
      expect(inner.sends.map(keys)).toEqual([['a'], ['c']]);
      inner.sends[1]!.settle();
      await expect(c).resolves.toBeUndefined();
    } finally {
      jest.useRealTimers();
    }
  });
});
