import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { TypeName } from '../schemas/types';
import { Workload, type WorkloadOptions } from '../scripts/traffic/workload';
import { durableModel, storedHistory, watermarksBothWays } from './support/durable-model';
import {
  caughtUp,
  createHarness,
  eventually,
  persisterCaughtUp,
  type Harness,
} from './support/harness';

/**
 * Issue 4: the persister killed with SIGKILL mid-batch, then restarted, leaves Cassandra complete,
 * with nothing duplicated that matters: it commits only what it wrote, and every write is
 * idempotent.
 */
const WORKLOAD: WorkloadOptions = {
  seed: 41,
  users: 60,
  directChats: 30,
  groups: 5,
  groupSize: 12,
  maxBurst: 4,
};

function startPersister(h: Harness): ChildProcess {
  // node itself runs the persister (tsx as a loader, not a wrapper process), so SIGKILL hits it.
  return spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, '..', 'scripts', 'persister.ts')],
    {
      env: {
        ...process.env,
        ...h.env,
        TICKS_METRICS_PORT: '0',
        TICKS_PERSISTER_METRICS_PORT: '0',
        TICKS_LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
}

const exited = (child: ChildProcess) => new Promise((r) => child.once('exit', r));

describe('persister crash', () => {
  let h: Harness;
  let workload: Workload;

  beforeAll(async () => {
    h = await createHarness(
      {
        TICKS_WATERMARK_FLUSH_INTERVAL_MS: '300',
        // Slow and small: the kill lands while batches are being written.
        TICKS_PERSISTER_CONCURRENCY: '2',
        TICKS_PENDING_RECEIPT_WAIT_MS: '60000',
        TICKS_SESSION_TIMEOUT_MS: '6000',
      },
      { cassandra: true },
    );
    workload = new Workload(h.publish, WORKLOAD);
    workload.setUp();
    await h.publish.flush();
    for (let n = 0; n < 3000; n += 500) {
      workload.step(500);
      await h.publish.flush();
    }
    await caughtUp(h, 120_000);
    // Some deliveries by id too.
    const sent = h.out.stateChanges.filter((c) => TypeName.MessageSent in c.change);
    for (const c of workload.conversationList.filter((c) => c.kind === 'GROUP')) {
      const ids = sent
        .filter((s) => s.conversation_id === c.id)
        .slice(-4)
        .map(
          (s) =>
            (s.change as { [TypeName.MessageSent]: { message_id: string } })[TypeName.MessageSent]
              .message_id,
        );
      if (ids.length > 0) h.publish.delivered(c.id, c.members[2]!, { messageIds: ids });
    }
    await h.publish.flush();
    await caughtUp(h, 60_000);
  }, 240_000);

  afterAll(async () => {
    await h?.close();
  });

  it('killed mid-way and restarted, it leaves Cassandra complete and nothing duplicated', async () => {
    const changelog = await h.kafka.withAdmin((a) => a.endOffsets(h.topics.stateChanges));
    const total = [...changelog.values()].reduce((n, end) => n + Number(end), 0);
    const lag = () =>
      h.kafka.withAdmin((a) => a.groupLag(h.config.persister.groupId, [h.topics.stateChanges]));

    let child = startPersister(h);
    // Kill it once it has committed some, but not all, of the changelog.
    const lagAtKill = await eventually(
      'partial progress of the persister',
      async () => {
        const l = await lag();
        return l > 0 && l < total * 0.9 ? l : undefined;
      },
      120_000,
    );
    child.kill('SIGKILL');
    await exited(child);
    expect(lagAtKill).toBeGreaterThan(0);
    expect(await lag()).toBeGreaterThan(0);

    child = startPersister(h);
    try {
      await persisterCaughtUp(h, 180_000);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }

    await eventually('the whole changelog to be collected', () => h.out.changelogRecords >= total);
    const model = durableModel(h.out.stateChanges);
    const stored = await storedHistory(h.cassandra!, h.durable!, model);
    expect(stored.messages).toEqual(model.messages);
    expect(stored.deliveredById).toEqual(model.deliveredById);
    // Each advance once, with the time it happened: a re-read batch wrote the same rows again.
    expect(stored.readAdvances).toEqual(model.readAdvances);
    expect(stored.deliveredAdvances).toEqual(model.deliveredAdvances);
    expect(model.deliveredById.size).toBeGreaterThan(0);

    // The latest watermark of every key, as Redis has it.
    const { cassandra, redis } = await watermarksBothWays(
      h,
      workload.conversationList.map((c) => c.id),
    );
    expect(Object.keys(cassandra).length).toBeGreaterThan(100);
    expect(cassandra).toEqual(redis);
  }, 420_000);
});
