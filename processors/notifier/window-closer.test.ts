import type { ProcessorContext } from '../../runtime/api';
import type { PartitionIndex } from '../../stores/redis/partition-index';
import {
  windowCloseAfter,
  windowCloseOf,
  windowEndEveryMs,
  windowPhaseOf,
  windowPhases,
} from './group-windowing';
import { WindowCloser } from './window-closer';

const WINDOWING = { windowMs: 2000, windowGraceMs: 50 };

describe('group windows in event time', () => {
  it("a record's window closes at the end of the 2 s it happened in, plus the grace", () => {
    const now = 1_000_000;
    // g2's windows start with the epoch's (phase 0).
    expect(windowPhaseOf('g2', 2000)).toBe(0);
    expect(windowCloseOf('g2', 994_500, { now }, WINDOWING)).toBe(996_050);
    expect(windowCloseOf('g2', 999_999, { now }, WINDOWING)).toBe(1_000_050);
    // Stamped ahead of the clock: counts as now.
    expect(windowCloseOf('g2', 1_007_000, { now }, WINDOWING)).toBe(1_002_050);
    // g7's start 600 ms later: its window of 994,500 is [994,600 − 2,000, 994,600).
    expect(windowPhaseOf('g7', 2000)).toBe(600);
    expect(windowCloseOf('g7', 994_500, { now }, WINDOWING)).toBe(994_650);
    expect(windowCloseOf('g7', 994_600, { now }, WINDOWING)).toBe(996_650);
  });

  it("a conversation's windows tumble: back to back, each windowMs long", () => {
    for (const id of ['g1', 'g2', 'g3', 'group-42']) {
      let close = windowCloseAfter(id, 1_000_000, WINDOWING);
      for (let k = 0; k < 5; k++) {
        const end = close - WINDOWING.windowGraceMs;
        // The last instant of the window closes it; the end itself opens the next.
        expect(windowCloseAfter(id, end - 1, WINDOWING)).toBe(close);
        const next = windowCloseAfter(id, end, WINDOWING);
        expect(next - close).toBe(WINDOWING.windowMs);
        close = next;
      }
    }
  });

  it('spreads the conversations over ten phases, whose ends the closer wakes at', () => {
    const perPhase = new Map<number, number>();
    for (let i = 0; i < 10_000; i++) {
      const phase = windowPhaseOf(`group-${i}`, 2000);
      perPhase.set(phase, (perPhase.get(phase) ?? 0) + 1);
    }
    expect([...perPhase.keys()].sort((a, b) => a - b)).toEqual([
      0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800,
    ]);
    for (const n of perPhase.values()) expect(n).toBeGreaterThan(800); // about 1,000 each
    // Every close is one of the closer's aligned wake-ups (k × everyMs + grace).
    const closer = new WindowCloser({
      ...WINDOWING,
      punctuateIntervalMs: 100,
    } as unknown as ConstructorParameters<typeof WindowCloser>[0]);
    expect(closer.aligned).toEqual({ everyMs: 200, offsetMs: 50 });
    for (let i = 0; i < 100; i++) {
      const close = windowCloseAfter(`group-${i}`, 1_000_000 + i * 37, WINDOWING);
      expect((close - closer.aligned.offsetMs) % closer.aligned.everyMs).toBe(0);
    }
  });

  it('uses fewer phases when windowMs is not a multiple of ten ms, none when it is prime', () => {
    expect(windowPhases(2000)).toBe(10);
    expect(windowPhases(2005)).toBe(5);
    expect(windowEndEveryMs(2005)).toBe(401);
    expect(windowPhases(2003)).toBe(1);
    expect(windowPhaseOf('g1', 2003)).toBe(0);
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
