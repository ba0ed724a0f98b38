import pino from 'pino';
import { PartitionOwnership, type PartitionLeaseStore } from './partition-ownership';

/** Leases as a store reports them: `verdicts` are holds()'s next answers, then true. */
function leaseStore(verdicts: boolean[]): PartitionLeaseStore {
  return {
    ttlMs: 100, // a tick every 10 ms
    acquire: () => Promise.resolve(true),
    renew: () => Promise.resolve([]),
    release: () => Promise.resolve(),
    holds: () => verdicts.shift() ?? true,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PartitionOwnership: a lease found expired by its tick', () => {
  async function ownershipOf(leases: PartitionLeaseStore) {
    const lost: Array<[number, string]> = [];
    let acquired!: () => void;
    const held = new Promise<void>((resolve) => (acquired = resolve));
    const ownership = new PartitionOwnership({
      leases,
      sessionTimeoutMs: 10_000,
      logger: pino({ level: 'silent' }),
      onAcquired: () => acquired(),
      onLost: (partition, reason) => lost.push([partition, reason]),
    });
    ownership.heartbeat();
    ownership.start();
    ownership.assign(new Set([0]), () => Promise.resolve());
    await held;
    return { ownership, lost };
  }

  it('is lost once it is still expired after the event loop read its sockets', async () => {
    const verdicts: boolean[] = [];
    const { ownership, lost } = await ownershipOf(leaseStore(verdicts));
    verdicts.push(false, false); // the tick's look, and the look after the poll phase
    await sleep(50);
    await ownership.stop();
    expect(lost).toEqual([[0, 'expired']]);
  });

  it('is kept when a renewal read after the tick (answered during a stall) extended it', async () => {
    const verdicts: boolean[] = [];
    const { ownership, lost } = await ownershipOf(leaseStore(verdicts));
    verdicts.push(false); // due at the tick; valid again once the renewal's reply is read
    await sleep(50);
    expect(verdicts).toEqual([]); // the tick did look
    await ownership.stop();
    expect(lost).toEqual([]);
  });
});
