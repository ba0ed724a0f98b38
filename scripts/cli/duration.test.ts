import { formatDuration, parseDuration } from './duration';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['1.5h', 5_400_000],
    ['90d', 7_776_000_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });

  it.each(['', '24', 'h', '-1h', '3 weeks'])('%p is refused', (text) => {
    expect(() => parseDuration(text)).toThrow(/a duration such as/);
  });
});
