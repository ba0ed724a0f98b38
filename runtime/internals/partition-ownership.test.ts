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

/** An ownership of partition 0 over `leases`, once its lease is acquired; the losses it told. */
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

describe('PartitionOwnership: a lease found expired by its tick', () => {
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

describe('PartitionOwnership: the term of a lost lease', () => {
  it('ends at the loss: work of that term is not held once the store grants the lease again, before the next term begins', async () => {
    let valid = true;
    let grant!: (granted: boolean) => void;
    let acquisitions = 0;
    const leases: PartitionLeaseStore = {
      ttlMs: 60_000, // no tick during the test
      acquire: () => {
        acquisitions++;
        if (acquisitions === 1) return Promise.resolve(true);
        return new Promise((resolve) => (grant = resolve));
      },
      renew: () => Promise.resolve([]),
      release: () => Promise.resolve(),
      holds: () => valid,
    };
    const { ownership } = await ownershipOf(leases);
    const term = ownership.term(0);
    expect(ownership.holds(0, term)).toBe(true);

    valid = false;
    expect(ownership.holds(0, term)).toBe(false); // found run out: lost, acquired again
    await sleep(0);
    expect(acquisitions).toBe(2);
    // The store has granted it (a real one knows so when the reply is read), and the
    // ownership has not yet resumed from its await: the lost term's work must still not pass.
    valid = true;
    expect(ownership.holds(0, term)).toBe(false);
    grant(true);
    await sleep(0);
    expect(ownership.term(0)).not.toBe(term);
    expect(ownership.holds(0, ownership.term(0))).toBe(true);
    expect(ownership.holds(0, term)).toBe(false);
    await ownership.stop();
  });
});
