import type { Punctuator } from '../api/processor';
import { PunctuationScheduler } from './punctuation-scheduler';

/** The scheduler's wake-ups on jest's fake clock: per interval, and at the work's due time. */
describe('PunctuationScheduler', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  function punctuator(intervalMs: number, nextDueAt?: () => number | undefined): Punctuator {
    return { name: 'p', intervalMs, punctuate: () => Promise.resolve(), nextDueAt };
  }

  function wakeTimes(p: Punctuator, untilMs: number): number[] {
    const start = Date.now();
    const times: number[] = [];
    const scheduler = new PunctuationScheduler(() => times.push(Date.now() - start));
    scheduler.start([p]);
    jest.advanceTimersByTime(untilMs);
    scheduler.stop();
    return times;
  }

  it('wakes a punctuator every interval', () => {
    expect(wakeTimes(punctuator(400), 1000)).toEqual([400, 800]);
  });

  it('also wakes it right after its due time, when that falls between two intervals', () => {
    const due = Date.now() + 250;
    // Due once: at 250 ms; nothing is due afterwards.
    const p = punctuator(400, () => (Date.now() <= due ? due : undefined));
    expect(wakeTimes(p, 1000)).toEqual([251, 400, 800]);
  });

  it('sets the due wake-up from an interval wake-up for work due before the next one', () => {
    const due = Date.now() + 1300; // seen at the 1,200 ms wake-up, not before
    const p = punctuator(400, () => (Date.now() <= due ? due : undefined));
    expect(wakeTimes(p, 1700)).toEqual([400, 800, 1200, 1301, 1600]);
  });

  it('sets no wake-up for work due after the next interval, nor after stop', () => {
    const p = punctuator(400, () => Date.now() + 5000);
    expect(wakeTimes(p, 1000)).toEqual([400, 800]);
  });
});
