import type { InboundBatch, InboundRecord } from '../kafka/types';
import { PartitionTask } from './partition-task';

const OPTIONS = {
  maxStepRecords: 100,
  maxBufferedRecords: 1000,
  maxIdleMs: 1000,
  maxLeadWaitMs: 30_000,
};

function batch(
  topic: string,
  records: Array<[offset: number, timestamp: number]>,
  highWatermark: number,
  pause?: () => () => void,
): InboundBatch {
  return {
    topic,
    partition: 0,
    highWatermark: String(highWatermark),
    records: records.map(([offset, timestamp]): InboundRecord => ({
      topic,
      partition: 0,
      offset: String(offset),
      key: null,
      value: null,
      timestamp,
    })),
    heartbeat: async () => undefined,
    isStale: () => false,
    commit: async () => undefined,
    pause,
  };
}

const offsets = (records: InboundRecord[]) => records.map((r) => Number(r.offset));

describe('PartitionTask', () => {
  it('takes leading records as they come and others only strictly before the leading frontier', () => {
    const task = new PartitionTask(0, 1, ['conv', 'rcpt'], OPTIONS);
    task.add(
      batch(
        'rcpt',
        [
          [0, 10],
          [1, 20],
          [2, 30],
        ],
        10,
      ),
    );
    task.add(
      batch(
        'conv',
        [
          [0, 5],
          [1, 20],
        ],
        10,
      ),
    ); // more on the broker: not caught up
    const step = task.nextStep(0)!;
    expect(offsets(step.records[0]!)).toEqual([0, 1]);
    expect(offsets(step.records[1]!)).toEqual([0]); // 20 is not before 20: conv may have more at 20
    task.markProcessed(step);
    expect(task.nextStep(0)).toBeNull();
    expect(task.waiting).toBe(true);
  });

  it('takes the rest once the leading topic is caught up on the broker', () => {
    const task = new PartitionTask(0, 1, ['conv', 'rcpt'], OPTIONS);
    task.add(
      batch(
        'rcpt',
        [
          [0, 10],
          [1, 50],
        ],
        2,
      ),
    );
    task.add(batch('conv', [[0, 5]], 1)); // fetched up to the high watermark
    const step = task.nextStep(0)!;
    expect(offsets(step.records[1]!)).toEqual([0, 1]);
  });

  it('waits for leading data known to be on the broker beyond maxIdleMs, not beyond maxLeadWaitMs', () => {
    const task = new PartitionTask(0, 1, ['conv', 'rcpt'], OPTIONS);
    task.add(batch('conv', [[0, 5]], 100));
    task.add(batch('rcpt', [[0, 50]], 1));
    task.markProcessed(task.nextStep(0)!); // the conv record
    expect(task.nextStep(1_000)).toBeNull();
    expect(task.nextStep(5_000)).toBeNull();
    expect(offsets(task.nextStep(40_000)!.records[1]!)).toEqual([0]);
  });

  it('takes waiting records after maxIdleMs when nothing says the leading topic has more', () => {
    const task = new PartitionTask(0, 1, ['conv', 'rcpt'], OPTIONS);
    const t0 = Date.now();
    task.add(batch('rcpt', [[0, 50]], 1));
    expect(task.nextStep(t0)).toBeNull(); // no conv batch yet: unknown
    expect(offsets(task.nextStep(t0 + 2_000)!.records[1]!)).toEqual([0]);
  });

  it('pauses a topic that runs ahead and resumes it once half its buffer is processed', () => {
    const task = new PartitionTask(0, 1, ['conv', 'rcpt'], { ...OPTIONS, maxBufferedRecords: 4 });
    const resume = jest.fn();
    const pause = jest.fn(() => resume);
    task.add(
      batch(
        'rcpt',
        [
          [0, 10],
          [1, 11],
          [2, 12],
          [3, 13],
        ],
        100,
        pause,
      ),
    );
    expect(pause).toHaveBeenCalledTimes(1);
    task.add(batch('conv', [[0, 100]], 1));
    task.markProcessed(task.nextStep(0)!);
    expect(resume).toHaveBeenCalledTimes(1);
  });

  it('never reorders records within a topic', () => {
    const task = new PartitionTask(0, 1, ['conv', 'rcpt'], OPTIONS);
    task.add(batch('conv', [[0, 100]], 10));
    task.add(
      batch(
        'rcpt',
        [
          [0, 50],
          [1, 200],
          [2, 60],
        ],
        10,
      ),
    );
    expect(offsets(task.nextStep(0)!.records[1]!)).toEqual([0]); // 60 waits behind 200
  });

  describe('timeAt (the partition time group windows close by)', () => {
    const CLOCK = 1_000_000;

    it('is how far every topic has been taken, never ahead of the clock', () => {
      const task = new PartitionTask(0, 1, ['conv', 'rcpt'], { ...OPTIONS, maxStepRecords: 2 });
      task.add(
        batch(
          'conv',
          [
            [0, 100],
            [1, 300],
            [2, 200],
            [3, 400],
          ],
          10,
        ),
        CLOCK,
      ); // 6 more on the broker
      task.add(batch('rcpt', [], 0), CLOCK);
      expect(task.timeAt(CLOCK)).toBe(99); // nothing taken: just before the first record waiting
      task.markProcessed(task.nextStep(CLOCK)!);
      expect(task.timeAt(CLOCK)).toBe(199); // 200 is still buffered
      task.markProcessed(task.nextStep(CLOCK)!);
      expect(task.timeAt(CLOCK + 999)).toBe(400); // none buffered, the broker has more
      expect(task.timeAt(350)).toBe(350); // a record stamped ahead of the clock
    });

    it('waits for receipts queued behind the messages', () => {
      const task = new PartitionTask(0, 1, ['conv', 'rcpt'], { ...OPTIONS, maxStepRecords: 2 });
      task.add(
        batch(
          'conv',
          [
            [0, 100],
            [1, 500],
          ],
          2,
        ),
        CLOCK,
      ); // all there is
      task.add(
        batch(
          'rcpt',
          [
            [0, 150],
            [1, 160],
            [2, 170],
          ],
          3,
        ),
        CLOCK,
      );
      task.markProcessed(task.nextStep(CLOCK)!); // both messages, two receipts
      expect(task.timeAt(CLOCK)).toBe(169); // not 500: the receipt at 170 is still to come
    });

    it('is the clock once caught up, or once nothing came for maxIdleMs', () => {
      const task = new PartitionTask(0, 1, ['conv', 'rcpt'], OPTIONS);
      task.add(batch('conv', [[0, 100]], 1), CLOCK); // all there is
      task.add(batch('rcpt', [], 0), CLOCK);
      task.markProcessed(task.nextStep(CLOCK)!);
      expect(task.timeAt(CLOCK)).toBe(CLOCK);

      const behind = new PartitionTask(0, 1, ['conv', 'rcpt'], OPTIONS);
      behind.add(batch('conv', [[0, 100]], 50), CLOCK); // a high watermark past what will come
      behind.add(batch('rcpt', [], 0), CLOCK);
      behind.markProcessed(behind.nextStep(CLOCK)!);
      expect(behind.timeAt(CLOCK + 999)).toBe(100);
      expect(behind.timeAt(CLOCK + 1000)).toBe(CLOCK + 1000);
    });

    it('stays behind however long a step takes while records wait', () => {
      const task = new PartitionTask(0, 1, ['conv', 'rcpt'], { ...OPTIONS, maxStepRecords: 1 });
      task.add(
        batch(
          'conv',
          [
            [0, 100],
            [1, 200],
          ],
          2,
        ),
        CLOCK,
      );
      task.add(batch('rcpt', [], 0), CLOCK);
      task.markProcessed(task.nextStep(CLOCK)!);
      expect(task.timeAt(CLOCK + 60_000)).toBe(199); // one record still buffered
    });
  });
});
