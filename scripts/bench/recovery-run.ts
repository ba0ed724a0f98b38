import { randomBytes } from 'node:crypto';
import { loadConfig, type TicksConfig } from '../../config/config';
import { AvroCodec } from '../../schemas/avro-codec';
import { ensureTopics } from '../../runtime/ensure-topics';
import { EventPublisher } from '../../runtime/event-publisher';
import { KafkaClient } from '../../runtime/kafka/kafka-client';
import type { GroupConsumer, RecordProducer } from '../../runtime/kafka/types';
import { topicNames } from '../../runtime/topics';
import { cleanUpRun, runEnv, runNames } from './bench-cleanup';
import { followTopic } from './follow-topic';
import { PipelineProcess, sleep } from './pipeline-process';

/**
 * How a pipeline process goes away:
 * - kill: SIGKILL while a second process of the group runs; it takes the partitions over;
 * - restart: SIGKILL of the only process, started again at once (as a supervisor would);
 * - term: SIGTERM (a deploy, a scale-down) while a second process runs.
 */
export type RecoveryScenario = 'kill' | 'restart' | 'term';

export interface RecoveryOptions {
  scenario: RecoveryScenario;
  partitions: number;
  /** Conversations the steady traffic writes to (one message each per tick). */
  conversations: number;
  /** How long to wait for the partitions to be processed again before giving up. */
  timeoutMs: number;
}

export interface RecoveryResult {
  scenario: RecoveryScenario;
  sessionTimeoutMs: number;
  partitionLeaseMs: number;
  /** The partitions the process that went away owned. */
  partitions: number[];
  /** Per partition: ms from the signal to the first changelog record produced after it. */
  perPartitionMs: Record<number, number>;
  /** The longest of them: when the last of its partitions was processed again. */
  recoveryMs: number;
}

const TICK_MS = 100;

/**
 * Measures one recovery: a steady stream of messages into fresh topics, one or two pipeline
 * processes (scripts/pipeline.ts, compiled, each in its own process) consuming it, then the
 * signal. A partition is processed again when a state_changes record of it is produced after
 * the signal (its timestamp is the producing process's clock: the same machine's); the time
 * from the signal to that, for the last of the partitions the process owned, is the recovery
 * time. The processes get this process's environment (TICKS_SESSION_TIMEOUT_MS...). Everything
 * the run creates is deleted after.
 */
export async function measureRecovery(options: RecoveryOptions): Promise<RecoveryResult> {
  const id = `recovery-${randomBytes(3).toString('hex')}`;
  const names = runNames(id);
  const env = runEnv(id, options.partitions, 'error');
  const config = loadConfig({ ...process.env, ...env });
  const topics = topicNames(config);
  const kafka = new KafkaClient({ brokers: config.kafka.brokers, clientId: `ticks-${id}` });
  const codec = AvroCodec.connect({ url: config.registryUrl });
  const processes: PipelineProcess[] = [];
  let producer: RecordProducer | undefined;
  let watcher: GroupConsumer | undefined;
  let traffic: { stop(): Promise<void> } | undefined;
  try {
    await ensureTopics(kafka, config);
    await codec.registerAll(topics);
    producer = await kafka.producer();
    const publisher = new EventPublisher(producer, codec, topics);

    // The changelog, from its end: per partition, the newest record's timestamp and the first
    // one produced after the signal.
    const newest = new Map<number, number>();
    const after = new Map<number, number>();
    let signalAt = Infinity;
    // From its end, and there again after a rejoin under load: no changelog written meanwhile
    // is skipped.
    watcher = await followTopic(kafka, topics.stateChanges, `${names.groupId}-watch`, async (r) => {
      newest.set(r.partition, Math.max(newest.get(r.partition) ?? 0, r.timestamp));
      if (r.timestamp > signalAt && !after.has(r.partition)) after.set(r.partition, r.timestamp);
    });

    traffic = steadyTraffic(publisher, options.conversations);
    const start = () => {
      const p = new PipelineProcess({ env });
      processes.push(p);
      return p.start().then(() => p);
    };
    const leaving = await start();
    const staying = options.scenario === 'restart' ? undefined : await start();
    // Steady: each process owns partitions, and every partition's changelog is fresh.
    await until(
      'both processes own partitions and every partition is processed',
      60_000,
      async () => {
        const owned = await partitionsOf(leaving);
        const other = staying ? await partitionsOf(staying) : [];
        const fresh = [...Array(options.partitions).keys()].every(
          (p) => Date.now() - (newest.get(p) ?? 0) < 1000,
        );
        return owned.length > 0 && (!staying || other.length > 0) && fresh;
      },
    );
    await sleep(2000);
    const partitions = await partitionsOf(leaving);

    if (options.scenario === 'term') {
      signalAt = Date.now();
      void leaving.stop();
    } else {
      process.kill(leaving.pid, 'SIGKILL');
      signalAt = Date.now();
      if (options.scenario === 'restart') await start();
    }
    await until(
      `partitions ${partitions.join(', ')} to be processed again`,
      options.timeoutMs,
      () => partitions.every((p) => after.has(p)),
    );
    const perPartitionMs = Object.fromEntries(
      partitions.map((p) => [p, after.get(p)! - signalAt]),
    ) as Record<number, number>;
    return {
      scenario: options.scenario,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      partitionLeaseMs: config.partitionLeaseMs,
      partitions,
      perPartitionMs,
      recoveryMs: Math.max(...Object.values(perPartitionMs)),
    };
  } finally {
    await traffic?.stop();
    for (const p of processes) await p.stop().catch(() => undefined);
    await watcher?.stop();
    await producer?.close();
    await cleanUpRun(id, config as TicksConfig);
  }
}

/** One message per conversation every TICK_MS, until stopped. */
function steadyTraffic(
  publisher: EventPublisher,
  conversations: number,
): { stop(): Promise<void> } {
  let stopped = false;
  const done = (async () => {
    for (let c = 0; c < conversations; c++)
      publisher.memberAdded(`c${c}`, 'ana', 'DIRECT').memberAdded(`c${c}`, 'bo', 'DIRECT');
    await publisher.flush();
    for (let seq = 1; !stopped; seq++) {
      for (let c = 0; c < conversations; c++)
        publisher.messageSent(`c${c}`, {
          messageId: `m${seq}`,
          seq,
          senderId: seq % 2 ? 'ana' : 'bo',
          kind: 'DIRECT',
        });
      await publisher.flush();
      await sleep(TICK_MS);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** The partitions a pipeline process owns, from its /healthz detail. */
async function partitionsOf(p: PipelineProcess): Promise<number[]> {
  const response = await fetch(`http://127.0.0.1:${p.metricsPort}/healthz`);
  const report = (await response.json()) as { detail?: { partitions?: number[] } };
  return report.detail?.partitions ?? [];
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean) {
  const deadline = Date.now() + timeoutMs;
  const holds = () =>
    Promise.resolve()
      .then(check)
      .catch(() => false);
  while (!(await holds())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}
