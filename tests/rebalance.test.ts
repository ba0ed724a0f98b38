import type { Workload, WorkloadOptions } from '../scripts/traffic/workload';
import { ChunkedLoad, expectChangelogEndsAsRedis, leasesOf } from './support/chunked-load';
import { caughtUp, createHarness, eventually, snapshot, type Harness } from './support/harness';
import { LeaseMonitor } from './support/lease-monitor';
import { PipelineProcess } from './support/pipeline-process';
import {
  changelogRegressions,
  clientRegressions,
  type Regression,
} from './support/watermark-views';

/**
 * Issue 11, "Rebalance tests": the partition-owned state in memory, written behind to Redis and
 * fenced by partition leases, survives a member joining and leaving under load and an owner
 * stopped past the session timeout: the end state is a clean run's and the changelog ends where
 * Redis does; a process that lost its lease writes nothing to Redis. No watermark goes back when
 * a member joins and leaves; after a stop, nothing the resumed process built after it woke moves
 * one back (a produce request in flight when it stopped, and redone steps, may: see the test).
 */
const WORKLOAD: WorkloadOptions = {
  seed: 23,
  users: 100,
  directChats: 50,
  groups: 5,
  groupSize: 15,
  maxBurst: 5,
};
/** Published in chunks of this many events, the same in every run, so every run has the same events. */
const CHUNK = 250;
const CHUNKS = 16;
const ENV = {
  // No held receipt may expire (the end state must not depend on timing)…
  TICKS_PENDING_RECEIPT_WAIT_MS: '60000',
  // …a member stopped is replaced soon, and its leases run out well before that.
  TICKS_SESSION_TIMEOUT_MS: '6000',
  TICKS_PARTITION_LEASE_MS: '2000',
  TICKS_PARTITIONS: '4',
};
const PARTITIONS = Number(ENV.TICKS_PARTITIONS);
const newLoad = (h: Harness) => new ChunkedLoad(h, WORKLOAD, CHUNK, CHUNKS);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Input records the processors have not committed yet. */
function lag(h: Harness): Promise<number> {
  return h.kafka.withAdmin((a) =>
    a.groupLag(h.config.kafka.groupId, [h.topics.conversationEvents, h.topics.receiptEvents]),
  );
}

/** Waits until the collector read every record of receipt_updates and state_changes. */
async function collected(h: Harness): Promise<void> {
  const total = async (topic: string) =>
    [...(await h.kafka.withAdmin((a) => a.endOffsets(topic))).values()].reduce(
      (sum, o) => sum + Number(o),
      0,
    );
  await eventually('the collector to read every output', async () => {
    const [updates, changelog] = await Promise.all([
      total(h.topics.receiptUpdates),
      total(h.topics.stateChanges),
    ]);
    return h.out.updates.length === updates && h.out.changelogRecords === changelog;
  });
}

describe('rebalances under load end in the state of a clean run (issue 11)', () => {
  let cleanState: Record<string, unknown>;
  let conversations: Workload['conversationList'];

  beforeAll(async () => {
    const clean = await createHarness(ENV);
    try {
      const load = newLoad(clean);
      await load.rest();
      await caughtUp(clean);
      await collected(clean);
      conversations = load.workload.conversationList;
      cleanState = await snapshot(clean, conversations);
      await expectChangelogEndsAsRedis(clean, conversations);
      // A clean run moves no watermark back: what the tests below see go back, rebalances did.
      expect(clientRegressions(clean.out.updates)).toEqual([]);
      expect(changelogRegressions(clean.out.stateChanges)).toEqual([]);
      expect(Object.values(cleanState).some((v) => (v as { watermark?: number }).watermark)).toBe(
        true,
      );
    } finally {
      await clean.close();
    }
  }, 60_000);

  it('a second process joins and later leaves while load flows', async () => {
    const h = await createHarness(ENV, { startPipeline: false });
    let second: PipelineProcess | undefined;
    try {
      await h.startPipeline();
      const load = newLoad(h);
      await load.publish(3);
      second = new PipelineProcess(h);
      const joined = second;
      // Joins while the load flows; it owns partitions once it holds their leases.
      const flowing = (async () => {
        while (!load.done && (await leasesOf(h, joined.child.pid!, PARTITIONS)).length === 0)
          await load.publish();
      })();
      await eventually(
        'the second process to own partitions',
        async () => (await leasesOf(h, joined.child.pid!, PARTITIONS)).length > 0,
        30_000,
      );
      await flowing;
      expect(h.pipeline.ownedPartitions.length).toBeLessThan(PARTITIONS);
      // Leaves while the load flows (a clean stop: it finishes what it started, commits, releases
      // its leases).
      const rest = load.rest(50);
      await sleep(150);
      await joined.signal('SIGTERM');
      await rest;
      await eventually(
        'the first process to own every partition again',
        () => h.pipeline.ownedPartitions.length === PARTITIONS,
        30_000,
      );
      await caughtUp(h);
      await collected(h);

      expect(await snapshot(h, conversations)).toEqual(cleanState);
      await expectChangelogEndsAsRedis(h, conversations);
      expect(clientRegressions(h.out.updates)).toEqual([]);
      expect(changelogRegressions(h.out.stateChanges)).toEqual([]);
    } finally {
      await second?.kill();
      await h.close();
    }
  }, 60_000);

  it('an owner stopped past the session timeout writes nothing once resumed, and the state is a clean run’s', async () => {
    const h = await createHarness(ENV, { startPipeline: false });
    let old: PipelineProcess | undefined;
    let next: PipelineProcess | undefined;
    let monitor: LeaseMonitor | undefined;
    try {
      old = new PipelineProcess(h);
      const oldPid = old.child.pid!;
      await eventually(
        'the first process to own every partition',
        async () => (await leasesOf(h, oldPid, PARTITIONS)).length === PARTITIONS,
        30_000,
      );
      const load = newLoad(h);
      await load.publish(2);
      await caughtUp(h);
      // Stopped mid-load: steps, their outputs and their writes in flight.
      const publishing = load.rest(40, 4);
      await sleep(100);
      await old.signal('SIGSTOP');
      const stoppedAt = Date.now();
      await publishing;
      expect(await lag(h)).toBeGreaterThan(0);

      next = new PipelineProcess(h);
      const nextPid = next.child.pid!;
      await load.publish(4);
      await eventually(
        'the second process to take every partition',
        async () => (await leasesOf(h, nextPid, PARTITIONS)).length === PARTITIONS,
        30_000,
      );
      // The group waited for the stopped member's session to end before it handed its partitions on.
      expect(Date.now() - stoppedAt).toBeGreaterThan(Number(ENV.TICKS_SESSION_TIMEOUT_MS) - 1000);
      await load.publish(2);
      await caughtUp(h);
      await collected(h);
      const before = { updates: h.out.updates.length, changes: h.out.stateChanges.length };

      // Every command it sends from now on is watched, and with it who holds which lease.
      monitor = await LeaseMonitor.start(h.config.redis.main.url, h.keys, PARTITIONS);
      await old.signal('SIGCONT');
      const resumedAt = Date.now();
      await load.publish();
      // It rejoins the group and gets partitions back, which it may write once it holds them.
      await eventually(
        'the resumed process to own partitions again',
        async () => (await leasesOf(h, oldPid, PARTITIONS)).length > 0,
        30_000,
      );
      await load.rest(50);
      await caughtUp(h);
      await monitor.refreshNames();
      const resumed = monitor.commandsOf(oldPid);
      const violations = await monitor.violations(oldPid);
      await Promise.all([old.signal('SIGTERM'), next.signal('SIGTERM')]);
      await collected(h);

      expect(await snapshot(h, conversations)).toEqual(cleanState);
      await expectChangelogEndsAsRedis(h, conversations);
      // Nothing written without its lease, though the watch saw it write once it held one.
      expect(violations).toEqual([]);
      expect(resumed.some((c) => c.args[0]!.toLowerCase() === 'hset')).toBe(true);

      // What moved back (the open question of issue 11's redos): the changelog, in changelog
      // order; a client applying updates by version. After the resume only records built before
      // the stop may: a produce request in flight when it stopped, sent when it resumed (Kafka
      // outputs are not fenced). None built after it woke.
      const changelog = changelogRegressions(h.out.stateChanges);
      const client = clientRegressions(h.out.updates);
      const builtAt = (r: Regression, stamps: number[]) => stamps[r.index]!;
      const late = [
        ...changelog.filter((r) => builtAt(r, h.out.changeTimestamps) >= resumedAt),
        ...client.filter((r) => builtAt(r, h.out.updateTimestamps) >= resumedAt),
      ];
      expect(late).toEqual([]);
      if (changelog.length + client.length > 0)
        console.log(
          'rebalance after a stop: watermarks seen going back',
          JSON.stringify({
            changelog: {
              beforeResume: changelog.filter((r) => r.index < before.changes).length,
              inFlightAtStop: changelog.filter(
                (r) => r.index >= before.changes && builtAt(r, h.out.changeTimestamps) < stoppedAt,
              ).length,
              example: changelog[0],
            },
            client: {
              beforeResume: client.filter((r) => r.index < before.updates).length,
              afterResume: client.filter((r) => r.index >= before.updates).length,
              example: client[0],
            },
          }),
        );
    } finally {
      monitor?.stop();
      await old?.kill();
      await next?.kill();
      await h.close();
    }
  }, 90_000);
});
