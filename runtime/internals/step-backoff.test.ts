import { StepBackoff } from './step-backoff';

describe('StepBackoff', () => {
  const options = { initialMs: 100, maxMs: 5_000, jitter: 0 };

  it('doubles the wait per consecutive failure up to the longest, at once for an error retrying cannot fix', () => {
    const backoff = new StepBackoff(options);
    expect([1, 2, 3].map(() => backoff.failed(true, 0))).toEqual([100, 200, 400]);
    backoff.succeeded();
    expect(backoff.failed(false, 0)).toBe(5_000);
    expect(backoff.atLongestWait).toBe(true);
  });

  it('remembers when the failures since the last success began (readiness counts from it)', () => {
    const backoff = new StepBackoff(options);
    expect(backoff.failingSince).toBeUndefined();
    backoff.failed(true, 1_000);
    backoff.failed(true, 4_000);
    expect(backoff.failingSince).toBe(1_000);
    backoff.succeeded();
    expect(backoff.failingSince).toBeUndefined();
    backoff.failed(true, 9_000);
    expect(backoff.failingSince).toBe(9_000);
  });
});
