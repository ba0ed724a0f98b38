import { CpuMeter, mainThreadSchedule } from './process-stats';

/** Keeps this thread busy for `ms`: it is either on a CPU or waiting for one all along. */
function spin(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

describe('the main thread’s time on a CPU and waiting for one (/proc/<pid>/schedstat)', () => {
  it('counts a busy main thread as running or waiting for nearly all of the interval', () => {
    const meter = new CpuMeter(new Map([['self', process.pid]]));
    meter.begin();
    spin(300);
    const { mainThreads, cores } = meter.end();
    const self = mainThreads.self!;
    expect(self.running).toBeGreaterThan(0);
    expect(self.waiting).toBeGreaterThanOrEqual(0);
    // Spinning, the thread is never asleep: on a CPU or runnable, however busy the machine.
    expect(self.running + self.waiting).toBeGreaterThan(0.8);
    expect(self.running + self.waiting).toBeLessThan(1.2);
    // The thread's running time is part of the process's CPU (which counts every thread).
    expect(self.running).toBeLessThanOrEqual(cores.self! + 0.05);
  });

  it('is undefined for a process that is not there', () => {
    expect(mainThreadSchedule(2 ** 22 + 1)).toBeUndefined();
  });
});
