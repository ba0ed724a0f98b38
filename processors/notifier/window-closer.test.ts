import type { ProcessorContext } from '../../runtime/api';
import type { PartitionIndex } from '../../stores/redis/partition-index';
import { windowCloseOf } from './group-windowing';
import { WindowCloser } from './window-closer';

const WINDOWING = { windowMs: 2000, windowGraceMs: 50 };

describe('group windows in event time', () => {
  it("a record's window closes at the end of the 2 s it happened in, plus the grace", () => {
    const now = 1_000_000;
    expect(windowCloseOf(994_500, { now }, WINDOWING)).toBe(996_050);
    expect(windowCloseOf(999_999, { now }, WINDOWING)).toBe(1_000_050);
    // Stamped ahead of the clock: counts as now.
    expect(windowCloseOf(1_007_000, { now }, WINDOWING)).toBe(1_002_050);
  });

  it("the closer closes the windows due by the partition's time, not the clock", async () => {
    const asked: number[] = [];
    const windows = {
      due: (_partitions: number[], dueBy: number) => {
        asked.push(dueBy);
        return Promise.resolve([]); // nothing due: the closer stops there
      },
    } as unknown as PartitionIndex;
    const closer = new WindowCloser({
      ...WINDOWING,
      windows,
      punctuateIntervalMs: 250,
      maxMessagesPerSender: 50,
    } as unknown as ConstructorParameters<typeof WindowCloser>[0]);
    // A partition working through a backlog: its time is that of the records it has reached.
    const ctx = { partition: 0, now: 1_000_000, streamTime: 940_000 } as ProcessorContext;
    await closer.punctuate([0], ctx);
    expect(asked).toEqual([940_000]);
  });
});
