import { RenewalSchedule } from './renewal-schedule';

const devices = Array.from({ length: 2_000 }, (_, i) => ({
  userId: `user-${i % 700}`,
  deviceId: `device-${Math.floor(i / 700)}`,
}));

describe('RenewalSchedule', () => {
  it('renews every device exactly once per third of the lease, in ticks of about 250 ms', () => {
    const schedule = new RenewalSchedule(60_000);
    expect(schedule.slices).toBe(80);
    expect(schedule.tickMs * schedule.slices).toBeCloseTo(20_000);
    const renewals = new Map<string, number>();
    for (let tick = 0; tick < schedule.slices; tick++) {
      const slice = schedule.nextSlice();
      for (const d of devices)
        if (schedule.renews(slice, d.userId)) {
          const id = `${d.userId}/${d.deviceId}`;
          renewals.set(id, (renewals.get(id) ?? 0) + 1);
        }
    }
    expect(renewals.size).toBe(devices.length);
    expect([...renewals.values()].every((n) => n === 1)).toBe(true);
    expect(schedule.nextSlice()).toBe(0); // the next cycle starts over
  });

  it('spreads the devices over the ticks: no tick renews more than twice its share', () => {
    const schedule = new RenewalSchedule(60_000);
    const share = devices.length / schedule.slices;
    for (let slice = 0; slice < schedule.slices; slice++) {
      const n = devices.filter((d) => schedule.renews(slice, d.userId)).length;
      expect(n).toBeLessThanOrEqual(2 * share);
    }
  });

  it('renews every device at every tick when a third of the lease is shorter than a tick', () => {
    const schedule = new RenewalSchedule(600);
    expect(schedule.slices).toBe(1);
    expect(schedule.tickMs).toBe(200);
    expect(devices.every((d) => schedule.renews(schedule.nextSlice(), d.userId))).toBe(true);
  });
});
