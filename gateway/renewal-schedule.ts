/** How often the gateway renews a slice of its devices' presence leases. */
export const RENEWAL_TICK_MS = 250;

/**
 * When each connected device's presence lease is renewed: every device once per third of the
 * lease, spread over ticks of about RENEWAL_TICK_MS — each tick renews the devices of one slice
 * of the users (a user's slice is a hash of the user id, so it stays the same while connected,
 * and a tick picks its users without building the others' device lists). Renewing
 * every device at once made one synchronous burst of presence records as large as the gateway
 * (10,000 encodes and a 1 MB produce for 10,000 devices, every 20 s) between its pushes; a slice
 * is the connections ÷ 80 at the default lease.
 */
export class RenewalSchedule {
  /** Slices of the devices: one is renewed per tick. */
  readonly slices: number;
  /** Time between ticks: slices × tickMs is a third of the lease. */
  readonly tickMs: number;
  private next = 0;

  constructor(leaseMs: number, tickMs = RENEWAL_TICK_MS) {
    const cycle = leaseMs / 3;
    this.slices = Math.max(1, Math.floor(cycle / tickMs));
    this.tickMs = cycle / this.slices;
  }

  /** The slice this tick renews (0, 1, … slices − 1, then again). */
  nextSlice(): number {
    const slice = this.next;
    this.next = (this.next + 1) % this.slices;
    return slice;
  }

  /** Whether a user's devices are in a slice (FNV-1a of the user id: stable, spread evenly). */
  renews(slice: number, userId: string): boolean {
    if (this.slices === 1) return true;
    let hash = 0x811c9dc5;
    for (let i = 0; i < userId.length; i++) {
      hash ^= userId.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    return (hash >>> 0) % this.slices === slice;
  }
}
