import { Workload, type WorkloadOptions } from '../scripts/traffic/workload';
import {
  caughtUp,
  createHarness,
  deleteKeys,
  scanKeys,
  snapshot,
  type Harness,
} from './support/harness';
import { runScript } from './support/run-script';

/** Issue 4: `npm run replay` re-derives Redis state from the input topics; twice changes nothing. */
const WORKLOAD: WorkloadOptions = {
  seed: 31,
  users: 40,
  directChats: 20,
  groups: 3,
  groupSize: 10,
  maxBurst: 4,
};

describe('replay', () => {
  let h: Harness;
  let workload: Workload;
  let from: string;
  let to: string;
  let inputs: number;
  let before: Record<string, unknown>;

  beforeAll(async () => {
    // A long hold: a read replayed before its message waits for it rather than expiring.
    h = await createHarness({
      TICKS_PENDING_RECEIPT_WAIT_MS: '60000',
      TICKS_SESSION_TIMEOUT_MS: '6000',
    });
    from = new Date(Date.now() - 1000).toISOString();
    workload = new Workload(h.publish, WORKLOAD);
    workload.setUp();
    await h.publish.flush();
    for (let n = 0; n < 1500; n += 500) {
      workload.step(500);
      await h.publish.flush();
    }
    await caughtUp(h, 120_000);
    to = new Date(Date.now() + 1000).toISOString();
    inputs = await h.kafka.withAdmin(async (a) => {
      let n = 0;
      for (const topic of [h.topics.conversationEvents, h.topics.receiptEvents])
        for (const end of (await a.endOffsets(topic)).values()) n += Number(end);
      return n;
    });
    before = await snapshot(h, workload.conversationList);
  }, 180_000);

  afterAll(async () => {
    await h?.close();
  });

  it('a dry run shows the range and changes nothing', async () => {
    const result = await runScript(h, 'replay.ts', ['--from', from, '--to', to, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`dry run: would replay ${inputs} records`);
    expect(result.stdout).toMatch(/receipt_events\/0\s+offsets 0\.\.\d+/);
  });

  it('replaying the same range twice leaves the state as it was', async () => {
    for (let i = 0; i < 2; i++) {
      const result = await runScript(h, 'replay.ts', ['--from', from, '--to', to]);
      expect(result.stderr).not.toMatch(/^error/m);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`replayed ${inputs} records`);
      expect(await snapshot(h, workload.conversationList)).toEqual(before);
    }
  }, 180_000);

  it('re-derives the state after it was lost, and stops at the range end', async () => {
    await h.stopPipeline();
    for (const client of [h.redis, h.aux]) {
      const keys = await scanKeys(client, h.keys.all());
      await deleteKeys(client, keys);
    }
    // A record after the range: the replay must not apply it.
    const dm = workload.conversationList.find((c) => c.kind === 'DIRECT')!;
    h.publish.messageSent(dm.id, {
      messageId: `${dm.id}:after-range`,
      seq: 1_000_000,
      senderId: dm.members[0]!,
      kind: 'DIRECT',
    });
    await h.publish.flush();

    const result = await runScript(h, 'replay.ts', ['--from-offset', '0', '--to', to]);
    expect(result.stderr).not.toMatch(/^error/m);
    expect(result.code).toBe(0);
    expect(await snapshot(h, workload.conversationList)).toEqual(before);
    expect(await h.redis.hget(h.keys.conversationKey(dm.id, 'msg'), `${dm.id}:after-range`)).toBe(
      null,
    );
  }, 180_000);
});
