import { clampRange } from './replay-range';

describe('clampRange', () => {
  const log = { low: 100, high: 500 };

  it('is the whole log without bounds', () => {
    expect(clampRange(log, {})).toEqual({ start: 100, end: 500 });
  });

  it('takes offsets, kept inside what the log holds', () => {
    expect(clampRange(log, { fromOffset: 200, toOffset: 300 })).toEqual({ start: 200, end: 300 });
    expect(clampRange(log, { fromOffset: 0, toOffset: 9999 })).toEqual({ start: 100, end: 500 });
  });

  it('takes the offsets Kafka found for the times', () => {
    expect(clampRange({ ...log, fromTime: 250, toTime: 260 }, { fromTime: 1, toTime: 2 })).toEqual({
      start: 250,
      end: 260,
    });
  });

  it('is empty when it starts after it ends', () => {
    expect(clampRange(log, { fromOffset: 400, toOffset: 300 })).toEqual({ start: 400, end: 400 });
  });
});
