import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Workload, WorkloadOptions } from '../scripts/traffic/workload';
import type { Cluster } from 'ioredis';
import { CLUSTER_SLOTS_REFRESH_MS, connectRedis, type RedisClient } from '../stores/redis/connect';
import { clusterView } from '../scripts/stack/redis-cluster';
import { execPipeline, pipelineOf } from '../stores/redis/pipeline';
import { keySlot } from '../stores/redis/slots';
import {
  caughtUp,
  createHarness,
  eventually,
  scanKeys,
  snapshot,
  type Harness,
} from './support/harness';
import { OwnRedisCluster } from './support/own-redis-cluster';
import { changelogRegressions, clientRegressions } from './support/watermark-views';
import { loadWorkload } from './support/workload-load';

/**
 * Issue 16: ticks on a Redis Cluster (3 masters + 3 replicas, as `stack:up -- --redis-cluster`
 * runs it). The test starts a cluster of its own, on ports of its own, so that it always runs
 * in `npm test` and can kill a master without touching the developer's stack.
 */
const cluster = new OwnRedisCluster({
  name: 'redis-cluster-test',
  firstPort: 22381,
  nodes: 6,
  replicasPerMaster: 1,
  busOffset: 100,
  // A short timeout: a killed master is noticed soon (the test also forces the failover).
  nodeTimeoutMs: 2000,
});

const WORKLOAD: WorkloadOptions = {
  seed: 16,
  users: 120,
  directChats: 60,
  groups: 6,
  groupSize: 20,
  maxBurst: 5,
};
const EVENTS = 6000;
// No held receipt may expire while a failover stalls a slot: the reference never waits.
const LONG_WAIT = { TICKS_PENDING_RECEIPT_WAIT_MS: '60000', TICKS_SESSION_TIMEOUT_MS: '6000' };

/** The pipeline's main and auxiliary Redis both on the cluster (seeds: two different nodes). */
const onCluster = (): Record<string, string> => ({
  ...LONG_WAIT,
  TICKS_REDIS_CLUSTER: 'true',
  TICKS_REDIS_URL: cluster.url,
  TICKS_AUX_REDIS_CLUSTER: 'true',
  TICKS_AUX_REDIS_URL: `redis://127.0.0.1:${cluster.layout.firstPort + 1}`,
});

beforeAll(async () => {
  await cluster.start();
}, 120_000);
afterAll(async () => {
  await cluster.stop();
});

describe('a Redis Cluster', () => {
  let redis: RedisClient;
  beforeAll(async () => {
    redis = await connectRedis({ url: cluster.url, cluster: true, seeds: [] }, 'main');
  });
  afterAll(() => redis.disconnect());

  it('refuses a script that touches a key of another slot, even one its node holds', async () => {
    // Two hash tags whose slots one master serves: a script without flags may touch both.
    const [a, b] = ['b', 'f'].map((tag) => `t:{${tag}}:k`) as [string, string];
    expect(keySlot(a)).not.toBe(keySlot(b));
    const cross = "redis.call('SET', KEYS[1], 1); return redis.call('SET', ARGV[1], 1)";
    await expect(redis.eval(cross, 1, a, b)).resolves.toBe('OK');
    await expect(redis.eval(`#!lua\n${cross}`, 1, a, b)).rejects.toThrow(
      /do not hash to the same slot/,
    );
  });

  it('stops waiting for a replica that died once the cluster marks it failed', async () => {
    // No MOVED comes when a replica dies, so ioredis keeps a map that names it; every part sent
    // to its master then waited 2 s for it and failed, for good (CI: a stale map after a failover
    // failed every read of the read model). The split pipeline reads the map anew instead.
    const key = 'replica-death:{k}';
    const { master, replica } = await cluster.masterAndReplicaOf(keySlot(key));
    const cl = redis as Cluster;
    await eventually(
      'the map to show the replica',
      async () => {
        await new Promise<unknown>((done) => cl.refreshSlotsCache(done));
        return (cl.slots[keySlot(key)] ?? []).length === 2;
      },
      30_000,
    );
    const write = async (value: string) => execPipeline(pipelineOf(redis).set(key, value));
    await expect(write('before')).resolves.toEqual(['OK']);
    cluster.kill(replica);
    try {
      await eventually(
        'a write to its master to stand',
        async () =>
          write('after').then(
            () => true,
            () => false,
          ),
        30_000,
      );
      await expect(redis.get(key)).resolves.toBe('after');
      expect(cl.slots[keySlot(key)]).toEqual([`127.0.0.1:${master}`]);
    } finally {
      await cluster.restart(replica);
    }
  }, 90_000);

  it('waits for a replica again once it is back: the client reads the slot map every few seconds', async () => {
    // A replica the map did not list when the client read it (still syncing, dead, added since)
    // was never waited for: ioredis reads the map again only on a redirection, and a failover to
    // that replica lost what the steps had committed (this file's SIGKILL test, one run in two).
    const key = 'replica-back:{k}';
    const slot = keySlot(key);
    const { master, replica } = await cluster.masterAndReplicaOf(slot);
    const cl = redis as Cluster;
    const listed = async () => (await clusterView(master)).slotReplicas === 3;
    cluster.kill(replica);
    try {
      await eventually(
        'the cluster to drop the dead replica from its map',
        async () => !(await listed()),
        30_000,
      );
      await new Promise<unknown>((done) => cl.refreshSlotsCache(done));
      expect(cl.slots[slot]).toEqual([`127.0.0.1:${master}`]);
    } finally {
      await cluster.restart(replica);
    }
    await eventually('the cluster to list the replica again', listed, 60_000);
    // No redirection, no refresh asked for: the client's own periodic read finds it.
    await eventually(
      'the client to list it',
      () => (cl.slots[slot] ?? []).length === 2,
      CLUSTER_SLOTS_REFRESH_MS * 3,
    );
    expect(cl.slots[slot]).toEqual([`127.0.0.1:${master}`, `127.0.0.1:${replica}`]);
  }, 120_000);

  it('runs the Redis store tests (every script and pipeline of the stores) against it', () => {
    // Every script is sent with its flags line (script-loader.ts): here, any key of a script
    // outside its first key's slot fails the test that calls it. Pipelines are split per node.
    const suites = [
      'stores/redis/apply-receipts.test.ts',
      'stores/redis/legacy-badges.test.ts',
      'stores/redis/members-changed.test.ts',
      'stores/redis/messages-sent.test.ts',
      'stores/redis/partition-index.test.ts',
      'stores/redis/partition-lease.test.ts',
      'stores/redis/user-store.test.ts',
      'stores/state/conversation-loader.test.ts',
      'stores/state/conversation-states.test.ts',
      'processors/engine/trim-messages.test.ts',
      'processors/receipts/held-receipts.test.ts',
      'tests/offline-store.test.ts',
    ];
    const root = path.join(__dirname, '..');
    const run = spawnSync(
      process.execPath,
      [
        path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'),
        ...suites,
        '--globalSetup',
        path.join(__dirname, 'setup', 'stack-already-up.ts'),
        '--globalTeardown',
        path.join(__dirname, 'setup', 'stack-already-up.ts'),
        '--forceExit',
      ],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 600_000,
        env: { ...process.env, TICKS_REDIS_CLUSTER: 'true', TICKS_REDIS_URL: cluster.url },
      },
    );
    const summary = /^Tests:.*$/m.exec(run.stderr)?.[0] ?? '(no summary)';
    if (run.status !== 0) process.stderr.write(run.stderr.slice(-20_000));
    expect({ status: run.status, summary }).toEqual({
      status: 0,
      summary: expect.stringMatching(/^Tests:\s+\d+ passed, \d+ total$/),
    });
    expect(Number(/(\d+) passed/.exec(summary)?.[1])).toBeGreaterThan(40);
  }, 660_000);
});

describe('the pipeline on a Redis Cluster ends where it ends on one Redis', () => {
  let reference: Record<string, unknown>;
  let workload: Workload;

  beforeAll(async () => {
    const single = await createHarness(LONG_WAIT);
    try {
      workload = await loadWorkload(single, WORKLOAD, EVENTS);
      await caughtUp(single, 180_000);
      reference = await snapshot(single, workload.conversationList);
    } finally {
      await single.close();
    }
  }, 240_000);

  it('the reference run did real work', () => {
    const values = Object.values(reference) as Array<{ unread?: number } | string[]>;
    expect(values.some((v) => !Array.isArray(v) && (v.unread ?? 0) > 0)).toBe(true);
    expect(values.some((v) => Array.isArray(v) && v.length > 0)).toBe(true);
  });

  it('processes the same load to the same state, its keys spread over every master', async () => {
    const h = await createHarness(onCluster());
    try {
      await loadWorkload(h, WORKLOAD, EVENTS);
      await caughtUp(h, 240_000);
      expect(await snapshot(h, workload.conversationList)).toEqual(reference);
      await expectSpreadOverMasters(h);
      expect(clientRegressions(h.out.updates)).toEqual([]);
      expect(changelogRegressions(h.out.stateChanges)).toEqual([]);
    } finally {
      await h.close();
    }
  }, 300_000);

  it('a master SIGKILLed and its replica promoted while load flows: nothing lost, no watermark back', async () => {
    const h = await createHarness(onCluster());
    const { master, replica } = await cluster.masterAndReplicaOf(0);
    try {
      // The load flows for about 6 s (500 events every 500 ms) while the pipeline runs: a
      // quarter processed, then the kill and the failover, then the rest.
      const loading = loadWorkload(h, WORKLOAD, EVENTS, 500);
      await eventually(
        'a quarter of the load to be processed',
        async () => (await committedInputs(h)) >= EVENTS / 4,
        120_000,
      );
      await cluster.killMasterAndPromote(master, replica);
      const committedAtFailover = await committedInputs(h);
      await loading;
      await caughtUp(h, 240_000);
      // The failover came mid-run: the pipeline went on processing on the promoted replica.
      expect(committedAtFailover).toBeLessThan(await committedInputs(h));
      expect(await snapshot(h, workload.conversationList)).toEqual(reference);
      expect(clientRegressions(h.out.updates)).toEqual([]);
      expect(changelogRegressions(h.out.stateChanges)).toEqual([]);
    } finally {
      await h.close();
      await cluster.restart(master);
    }
  }, 420_000);
});

/** Input records the pipeline has committed so far (both input topics). */
async function committedInputs(h: Harness): Promise<number> {
  return h.kafka.withAdmin(async (admin) => {
    let committed = 0;
    for (const topic of [h.topics.conversationEvents, h.topics.receiptEvents]) {
      const offsets = await admin.committedOffsets(h.config.kafka.groupId, topic);
      for (const offset of offsets.values()) committed += Math.max(0, Number(offset));
    }
    return committed;
  });
}

/**
 * The run's keys are on every master (redis-cli gives 3 masters slots 0–5460, 5461–10922 and
 * 10923–16383): the test did exercise the cluster, not one node.
 */
async function expectSpreadOverMasters(h: Harness): Promise<void> {
  const keys = await scanKeys(h.redis, `${h.config.redis.keyPrefix}:*`);
  const masters = new Set(
    keys.map((k) => {
      const slot = keySlot(k);
      return slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2;
    }),
  );
  expect(masters.size).toBe(3);
}
