import { createHash } from 'node:crypto';
import type { Workload, WorkloadOptions } from '../scripts/traffic/workload';
import {
  KAFKA_CLUSTER_ENV,
  KAFKA_CLUSTER_REPLICATION,
  KAFKA_CLUSTER_SIZE,
} from '../scripts/stack/kafka-cluster';
import { ChunkedLoad, changelogAndRedis, leasesOf } from './support/chunked-load';
import { clientView, withoutRepeats } from './support/client-view';
import { durableModel, durableWatermarks } from './support/durable-model';
import {
  caughtUp,
  createHarness,
  OutputCollector,
  eventually,
  outputsCollected,
  snapshot,
  type Harness,
} from './support/harness';
import { TestKafkaCluster } from './support/kafka-cluster';
import { PipelineProcess } from './support/pipeline-process';
import { changelogRegressions, clientRegressions } from './support/watermark-views';

/**
 * Issue 16 items 2–4 on the stack's real 3-broker KRaft cluster (started here if it does not
 * run, stopped again after): topics replicated 3 times with min.insync.replicas 2, three pipeline
 * processes in one consumer group sharing the partitions, and the end of a clean run after (b) the
 * broker coordinating the pipeline's group SIGKILLed and started again while load flows, and (c)
 * pipeline processes stopped (SIGTERM and SIGKILL in turn) and started every few seconds under
 * load. The end: what users read, the changelog's messages and watermarks (what Cassandra gets),
 * the changelog ending where Redis does; no watermark back, no version that misleads a client,
 * no dead letter.
 */
const WORKLOAD: WorkloadOptions = {
  seed: 37,
  users: 100,
  directChats: 50,
  groups: 5,
  groupSize: 15,
  maxBurst: 5,
};
const CHUNK = 250;
const CHUNKS = 24;
const PROCESSES = 3;
const ENV = {
  ...KAFKA_CLUSTER_ENV,
  // No held receipt may expire (the end must not depend on timing: under churn on a loaded
  // machine a partition can go unowned for a minute)…
  TICKS_PENDING_RECEIPT_WAIT_MS: '600000',
  // …a member gone is replaced soon, and its leases run out before that.
  TICKS_SESSION_TIMEOUT_MS: '6000',
  TICKS_PARTITION_LEASE_MS: '2000',
  TICKS_PARTITIONS: '6',
};
const PARTITIONS = Number(ENV.TICKS_PARTITIONS);

/** (c): a process stopped and another started after every CHUNKS_PER_CYCLE chunks (a second each). */
const CHURN_CYCLES = 5;
const CHUNKS_PER_CYCLE = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a run ends in, comparable between runs of the same load. */
interface End {
  /**
   * Distinct records in the input topics: all the load, none lost by Kafka (a send repeated
   * after a broker died may write some twice: at least once).
   */
  inputRecords: number;
  /** What users read: watermarks, unread counts, badges. */
  state: Record<string, unknown>;
  /** What the changelog gives Cassandra: every message's seq, and the watermarks. */
  durable: Record<string, unknown>;
  /** The changelog's watermarks and Redis's: equal, the changelog complete. */
  changelogEndsAs: { changelog: unknown; redis: unknown };
}

/** What no run may tell: every list empty. */
interface Wrong {
  /** Watermarks a client applying updates by version sees go back. */
  clientRegressions: unknown[];
  /** Watermarks going back in the changelog, in its order. */
  changelogRegressions: unknown[];
  /** One version for two contents. */
  versionConflicts: unknown[];
  /** A version below one already sent about the conversation. */
  versionsOutOfOrder: unknown[];
  deadLetters: unknown[];
}

const NOTHING_WRONG: Wrong = {
  clientRegressions: [],
  changelogRegressions: [],
  versionConflicts: [],
  versionsOutOfOrder: [],
  deadLetters: [],
};

/** A map as an object with sorted keys (sets as sorted arrays), so that a diff lines up. */
function sorted<V>(map: Map<string, V>): Record<string, unknown> {
  return Object.fromEntries(
    [...map.keys()].sort().map((k) => {
      const v = map.get(k);
      return [k, v instanceof Set ? [...(v as Set<number>)].sort((a, b) => a - b) : v];
    }),
  );
}

/**
 * The output topics read again from the start by a consumer of its own: what Kafka holds, to tell
 * a record Kafka lost from one the test's collector missed.
 */
async function readOutputsAgain(h: Harness): Promise<OutputCollector> {
  const again = new OutputCollector(h.kafka, h.codec, h.topics);
  const groupId = `ticks-test-reread-${h.id}`;
  await again.start(groupId);
  try {
    await outputsCollected({ ...h, out: again }, 60_000);
  } finally {
    await again.stop();
    await h.kafka.withAdmin((a) => a.deleteGroup(groupId));
  }
  return again;
}

/** Distinct records (by value) in the input topics, read from the start by a consumer of its own. */
async function inputRecords(h: Harness): Promise<number> {
  const topics = [h.topics.conversationEvents, h.topics.receiptEvents];
  const ends = await h.kafka.withAdmin((a) => Promise.all(topics.map((t) => a.endOffsets(t))));
  const distinct = new Set<string>();
  const positions = new Map<string, number>();
  const groupId = `ticks-test-inputs-${h.id}`;
  const consumer = h.kafka.groupConsumer({
    groupId,
    topics,
    coPartitioned: false,
    fromBeginning: true,
    onBatch: async (batch) => {
      for (const r of batch.records)
        distinct.add(createHash('sha1').update(r.value!).digest('hex'));
      const last = batch.records[batch.records.length - 1];
      if (last) positions.set(`${batch.topic}/${batch.partition}`, Number(last.offset) + 1);
    },
  });
  await consumer.start();
  try {
    await eventually(
      'every input record to be read again',
      () =>
        topics.every((t, i) =>
          [...ends[i]!].every(([p, end]) => (positions.get(`${t}/${p}`) ?? 0) >= Number(end)),
        ),
      60_000,
    );
  } finally {
    await consumer.stop();
    await h.kafka.withAdmin((a) => a.deleteGroup(groupId));
  }
  return distinct.size;
}

class Run {
  readonly processes: PipelineProcess[] = [];
  readonly load: ChunkedLoad;
  constructor(readonly h: Harness) {
    this.load = new ChunkedLoad(h, WORKLOAD, CHUNK, CHUNKS);
  }

  static async create(): Promise<Run> {
    return new Run(await createHarness(ENV, { startPipeline: false }));
  }

  get conversations(): Workload['conversationList'] {
    return this.load.workload.conversationList;
  }

  startProcess(): PipelineProcess {
    const p = new PipelineProcess(this.h);
    this.processes.push(p);
    return p;
  }

  running(): PipelineProcess[] {
    return this.processes.filter((p) => p.running);
  }

  /** Starts `count` processes and waits until each holds partitions of its own. */
  async startGroup(count: number): Promise<void> {
    const started = Array.from({ length: count }, () => this.startProcess());
    await eventually(
      `each of ${count} pipeline processes to own partitions`,
      async () => {
        for (const p of started)
          if ((await leasesOf(this.h, p.child.pid!, PARTITIONS)).length === 0) return false;
        return true;
      },
      120_000,
    );
  }

  /**
   * Waits until every input record is committed, stops the processes cleanly (which closes the
   * open group windows) and reads every output: what the run ended in, and what it told wrong.
   */
  async end(): Promise<{ end: End; wrong: Wrong }> {
    const { h } = this;
    await caughtUp(h, 180_000);
    await Promise.all(this.running().map((p) => p.signal('SIGTERM')));
    await outputsCollected(h, 60_000);
    // A copy of an update received before (a produce retried after the broker wrote it, a
    // redo) is dropped by the client by its version: neither out of order nor a conflict.
    const view = clientView(withoutRepeats(h.out.updates));
    const { messages } = durableModel(h.out.stateChanges);
    const again = await readOutputsAgain(h);
    const messagesInKafka = sorted(durableModel(again.stateChanges).messages);
    if (JSON.stringify(messagesInKafka) !== JSON.stringify(sorted(messages)))
      console.log('the collector missed changelog records that Kafka holds');
    return {
      end: {
        inputRecords: await inputRecords(h),
        state: await snapshot(h, this.conversations),
        durable: {
          messages: messagesInKafka,
          watermarks: sorted(durableWatermarks(h.out.stateChanges)),
        },
        changelogEndsAs: await changelogAndRedis(h, this.conversations),
      },
      wrong: {
        clientRegressions: clientRegressions(h.out.updates),
        changelogRegressions: changelogRegressions(h.out.stateChanges),
        versionConflicts: view.conflicts,
        versionsOutOfOrder: view.outOfOrder,
        deadLetters: h.out.deadLetters,
      },
    };
  }

  async close(): Promise<void> {
    for (const p of this.processes) await p.kill();
    await this.h.close();
  }
}

/**
 * What clients were told must be true: no watermark seen going back by a client applying updates
 * by version (steps redone by the next owner tell nothing below what was written ahead:
 * stores/state/told-ahead.ts), no version for two contents, none below one already sent, no
 * dead letter. Open (RELIABILITY.md, "On a 3-broker Kafka cluster"): a redo from an older state
 * logs older watermarks in the changelog again (the persister keeps the highest); printed.
 */
function reportToldWrong(scenario: string, wrong: Wrong): void {
  const { changelogRegressions, ...told } = wrong;
  expect(told).toEqual({
    clientRegressions: [],
    versionConflicts: [],
    versionsOutOfOrder: [],
    deadLetters: [],
  });
  if (changelogRegressions.length > 0)
    console.log(
      `${scenario} changelog went back (open finding): ${JSON.stringify(changelogRegressions).slice(0, 1000)}`,
    );
}

describe('a 3-broker Kafka cluster and three pipeline processes (issue 16)', () => {
  let cluster: TestKafkaCluster;
  let clean: End;

  beforeAll(async () => {
    cluster = await TestKafkaCluster.up();
    const run = await Run.create();
    try {
      await run.startGroup(1);
      await run.load.rest();
      const { end, wrong } = await run.end();
      clean = end;
      expect(wrong).toEqual(NOTHING_WRONG);
      expect(clean.changelogEndsAs.changelog).toEqual(clean.changelogEndsAs.redis);
      const values = Object.values(clean.state) as Array<{ unread?: number } | string[]>;
      // The clean run did real work: unread counts and badges to compare.
      expect(values.some((v) => !Array.isArray(v) && (v.unread ?? 0) > 0)).toBe(true);
      expect(values.some((v) => Array.isArray(v) && v.length > 0)).toBe(true);
    } finally {
      await run.close();
    }
  }, 300_000);

  afterAll(async () => {
    await cluster?.down();
  }, 120_000);

  it('creates topics with the configured replication factor on every broker, min.insync.replicas 2', async () => {
    const run = await Run.create();
    try {
      const { h } = run;
      const topics = Object.values(h.topics);
      const replicas = await h.kafka.withAdmin((a) => a.partitionReplicas(topics));
      for (const topic of topics) {
        const partitions = replicas.get(topic)!;
        expect(partitions).toHaveLength(PARTITIONS);
        for (const p of partitions) {
          expect(p.replicas).toHaveLength(KAFKA_CLUSTER_REPLICATION.factor);
          expect(p.isr).toHaveLength(KAFKA_CLUSTER_REPLICATION.factor);
        }
      }
      // Leaders spread over every broker.
      const leaders = new Set([...replicas.values()].flat().map((p) => p.leader));
      expect(leaders.size).toBe(KAFKA_CLUSTER_SIZE);
      const config = await h.kafka.withAdmin((a) =>
        a.topicConfig(h.topics.conversationEvents, ['min.insync.replicas']),
      );
      expect(config['min.insync.replicas']).toBe(String(KAFKA_CLUSTER_REPLICATION.minInsync));
    } finally {
      await run.close();
    }
  });

  it('(b) the broker coordinating the group, SIGKILLed and restarted while load flows: a clean run’s end', async () => {
    const run = await Run.create();
    const { h, load } = run;
    let killed: number | undefined;
    try {
      await run.startGroup(PROCESSES);
      await load.publish(3);
      killed = await TestKafkaCluster.coordinatorOf(h.kafka, h.config.kafka.groupId);
      const replicas = await h.kafka.withAdmin((a) => a.partitionReplicas(Object.values(h.topics)));
      // It also leads partitions of ticks' topics: producers and fetches lose their leader too.
      expect([...replicas.values()].flat().some((p) => p.leader === killed)).toBe(true);

      const publishing = load.rest(300);
      await sleep(500);
      await cluster.kill(killed);
      const chunksAtKill = load.published;
      // Down until the cluster has moved every leadership away from it, and longer.
      await eventually(
        `partitions led by broker ${killed} to get new leaders`,
        async () => {
          const now = await h.kafka.withAdmin((a) => a.partitionReplicas(Object.values(h.topics)));
          return [...now.values()].flat().every((p) => p.leader !== killed);
        },
        30_000,
      );
      // The load goes on flowing without it (a chunk caught by the kill is sent again).
      await eventually(
        'the load to flow on while the broker is down',
        async () => load.published > chunksAtKill + 1,
        30_000,
      );
      expect(load.done).toBe(false);
      await cluster.restart(killed);
      await publishing;

      const { end, wrong } = await run.end();
      expect(end).toEqual(clean);
      reportToldWrong('(b)', wrong);
      // The restarted broker caught up: every partition back to 3 in-sync replicas.
      await eventually(
        'every partition to have its 3 replicas in sync again',
        async () =>
          (await TestKafkaCluster.underReplicated(h.kafka, Object.values(h.topics))).length === 0,
        60_000,
      );
    } finally {
      if (killed !== undefined && !cluster.isRunning(killed)) await cluster.restart(killed);
      await run.close();
    }
  }, 300_000);

  it('(c) pipeline processes stopped and started every few seconds under load: a clean run’s end', async () => {
    const run = await Run.create();
    const { load } = run;
    try {
      await run.startGroup(PROCESSES);
      const first = new Set(run.running().map((p) => p.child.pid!));
      for (let cycle = 0; cycle < CHURN_CYCLES; cycle++) {
        // Load flows (a chunk a second) all along, the stop and the start included.
        for (let i = 1; i < CHUNKS_PER_CYCLE; i++) {
          await load.publish();
          await sleep(1000);
        }
        expect(load.done).toBe(false);
        // The oldest goes (a clean stop and a crash in turn) and a new one comes.
        const oldest = run.running()[0]!;
        run.startProcess();
        await Promise.all([oldest.signal(cycle % 2 === 0 ? 'SIGTERM' : 'SIGKILL'), load.publish()]);
      }
      await load.rest(1000);
      // Partitions moved: every one of them is owned, in the end, by processes that came.
      await eventually(
        'the processes started during the churn to own every partition',
        async () => {
          let owned = 0;
          for (const p of run.running()) {
            if (first.has(p.child.pid!)) return false;
            owned += (await leasesOf(run.h, p.child.pid!, PARTITIONS)).length;
          }
          return owned === PARTITIONS;
        },
        120_000,
      );
      expect(run.running()).toHaveLength(PROCESSES);

      const { end, wrong } = await run.end();
      expect(end).toEqual(clean);
      reportToldWrong('(c)', wrong);
    } finally {
      await run.close();
    }
  }, 300_000);
});
