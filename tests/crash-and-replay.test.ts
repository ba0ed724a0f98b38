import pino from 'pino';
import type { Workload, WorkloadOptions } from '../scripts/traffic/workload';
import { Pipeline } from '../services/pipeline';
import { caughtUp, createHarness, eventually, snapshot, type Harness } from './support/harness';
import { PipelineProcess } from './support/pipeline-process';
import { loadWorkload as loadInput } from './support/workload-load';

/** DESIGN.md: at-least-once in, idempotent effects; a crash or a replay ends in the same state. */
const WORKLOAD: WorkloadOptions = {
  seed: 11,
  users: 120,
  directChats: 60,
  groups: 6,
  groupSize: 20,
  maxBurst: 5,
};
const EVENTS = 6000;
// A long hold (no early read may expire) and a short session (the killed member leaves soon).
const LONG_WAIT = { TICKS_PENDING_RECEIPT_WAIT_MS: '60000', TICKS_SESSION_TIMEOUT_MS: '6000' };

const loadWorkload = (h: Harness): Promise<Workload> => loadInput(h, WORKLOAD, EVENTS);

describe('crash and replay end in the state of a clean run', () => {
  let clean: Harness;
  let cleanState: Record<string, unknown>;
  let workload: Workload;

  beforeAll(async () => {
    clean = await createHarness(LONG_WAIT);
    workload = await loadWorkload(clean);
    await caughtUp(clean, 120_000);
    cleanState = await snapshot(clean, workload.conversationList);
  }, 180_000);
  afterAll(async () => {
    await clean?.close();
  });

  it('the clean run did real work', () => {
    const values = Object.values(cleanState) as Array<
      { unread?: number; watermark?: number } | string[]
    >;
    expect(values.some((v) => !Array.isArray(v) && (v.unread ?? 0) > 0)).toBe(true);
    expect(values.some((v) => !Array.isArray(v) && (v.watermark ?? 0) > 0)).toBe(true);
    expect(values.some((v) => Array.isArray(v) && v.length > 0)).toBe(true);
  });

  it('the same input consumed twice (offsets reset) ends in the same state', async () => {
    await clean.stopPipeline();
    await clean.kafka.withAdmin((admin) =>
      admin.resetGroupToEarliest(clean.config.kafka.groupId, [
        clean.topics.conversationEvents,
        clean.topics.receiptEvents,
      ]),
    );
    expect(
      await clean.kafka.withAdmin((a) =>
        a.groupLag(clean.config.kafka.groupId, [clean.topics.receiptEvents]),
      ),
    ).toBeGreaterThan(0);
    await clean.startPipeline();
    await caughtUp(clean, 120_000);
    expect(await snapshot(clean, workload.conversationList)).toEqual(cleanState);
  }, 180_000);

  it('a processor killed with SIGKILL mid-batch and restarted ends in the same state', async () => {
    const crashed = await createHarness(LONG_WAIT, { startPipeline: false });
    let child: PipelineProcess | undefined;
    try {
      await loadWorkload(crashed);
      // It kills itself halfway through the input (about 30 steps of 200 records), at a step
      // whose outputs were produced and whose state was neither written to Redis nor committed.
      const killed = (child = new PipelineProcess(crashed, {
        TICKS_MAX_STEP_RECORDS: '200',
        TICKS_FAULT_KILL_AT: 'produced:15',
      }));
      await eventually('the pipeline to kill itself at produced:15', () => !killed.running, 60_000);
      expect(killed.child.signalCode).toBe('SIGKILL');
      const lagAtKill = await crashed.kafka.withAdmin((a) =>
        a.groupLag(crashed.config.kafka.groupId, [
          crashed.topics.conversationEvents,
          crashed.topics.receiptEvents,
        ]),
      );
      // It had committed some, but not all, of the input.
      expect(lagAtKill).toBeGreaterThan(0);
      expect(lagAtKill).toBeLessThan(EVENTS * 0.9);

      child = new PipelineProcess(crashed);
      await caughtUp(crashed, 120_000);
      await child.signal('SIGTERM');
      expect(await snapshot(crashed, workload.conversationList)).toEqual(cleanState);
    } finally {
      await child?.kill();
      await crashed.close();
    }
  }, 240_000);

  it('two processes share the partitions (co-partitioned) and end in the same state', async () => {
    const shared = await createHarness(LONG_WAIT, { startPipeline: false });
    const second = new Pipeline({
      config: shared.config,
      logger: pino({ level: 'warn' }),
      codec: shared.codec,
    });
    try {
      await shared.startPipeline();
      await second.start();
      await eventually(
        'both processes own partitions',
        () => shared.pipeline.ownedPartitions.length === 1 && second.ownedPartitions.length === 1,
        60_000,
      );
      expect([...shared.pipeline.ownedPartitions, ...second.ownedPartitions].sort()).toEqual([
        0, 1,
      ]);
      await loadWorkload(shared);
      await caughtUp(shared, 120_000);
      expect(await snapshot(shared, workload.conversationList)).toEqual(cleanState);
    } finally {
      await second.stop();
      await shared.close();
    }
  }, 240_000);
});
