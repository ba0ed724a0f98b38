import path from 'node:path';
import type { KafkaClient } from '../../runtime/kafka/kafka-client';
import type { TopicAdmin } from '../../runtime/kafka/topic-admin';
import { runNames } from './bench-cleanup';
import { runKeyspace } from './run-keyspace';
import type { BenchProgress } from './bench-progress';
import { PipelineProcess, sleep } from './pipeline-process';
import { cpuSeconds } from './process-stats';
import { MetricsSnapshot } from './prometheus-text';

/** One look at the persister: its counters and how far behind the changelog it is. */
interface PersisterSample {
  /** Milliseconds since the persister started. */
  t: number;
  changes: number;
  rows: number;
  /**
   * Changelog records not yet in Cassandra: the changelog's end minus its group's committed
   * offsets (it commits after each watermark flush, every FLUSH_INTERVAL_MS here).
   */
  lag: number;
  /** The changelog's end offsets, per partition, and their sum. */
  ends: Map<number, string>;
  end: number;
  /** CPU seconds so far of the persister and of Cassandra (NaN: not seen). */
  cpu: { persister: number; cassandra: number };
}

/** The persister's watermark flush and commit interval in the bench (production: 60 s). */
const FLUSH_INTERVAL_MS = 2_000;

/** A rate over part of the run, and the cores the persister and Cassandra used meanwhile. */
export interface PersisterRate {
  seconds: number;
  changesPerSecond: number;
  rowsPerSecond: number;
  persisterCores: number;
  /** Cassandra's cores, other users of the server included (NaN: its process not seen). */
  cassandraCores: number;
}

/** What the persister did beside the drain (the pipeline at full speed), and after it. */
export interface PersisterResult {
  changes: number;
  rows: number;
  /** Rows written per Cassandra table. */
  rowsByTable: Record<string, number>;
  /** While the pipeline drained: from the persister's first write to the drain's end. */
  duringDrain: PersisterRate & { maxLag: number };
  /** From its first write until it had read the whole changelog. */
  overall: PersisterRate;
  /** Changelog records it had still to read when the pipeline finished the drain. */
  lagAtDrainEnd: number;
  /** How long it needed after the drain's end to read and write the whole changelog. */
  catchUpSeconds: number;
  /** SIGTERM to exit: the last watermark flush and offset commit. */
  finalFlushSeconds: number;
  /**
   * Changelog records, of those there were when it was asked to stop, that its consumer group
   * had not committed after it stopped (0: all in Cassandra).
   */
  uncommittedAfterStop: number;
  peakRssBytes: number;
  timedOut: boolean;
}

/**
 * The persister (`scripts/persister.ts`, compiled) in a process of its own beside the pipeline,
 * as deployed: its own consumer group on the changelog and a keyspace of the run's own. It is
 * sampled every half second (its /metrics) from the drain's start; `drainEnded()` marks when
 * the pipeline finished, and `finish()` waits until it has read the whole changelog, then stops
 * it (the last flush and commit) and returns the figures.
 */
export class PersisterPhase {
  private readonly process: PipelineProcess;
  private readonly samples: PersisterSample[] = [];
  private startedAt = 0;
  private drainEndedAt: number | undefined;
  private sampling: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly options: {
      id: string;
      env: Record<string, string>;
      outDir: string;
      /** The local Cassandra's pid, for its CPU (none: not measured). */
      cassandraPid?: number;
    },
  ) {
    this.process = new PipelineProcess({
      script: 'persister',
      metricsPortVariable: 'TICKS_PERSISTER_METRICS_PORT',
      env: PersisterPhase.env(options.id, options.env),
      logFile: path.join(options.outDir, `persister-${options.id}.log`),
    });
  }

  /**
   * The run's variables plus the persister's group (cleaned up with the run's) and keyspace, and
   * a watermark flush (after which it commits) every few seconds instead of every minute, so that
   * its committed offsets, the lag measured here, follow what it wrote.
   */
  static env(id: string, runEnv: Record<string, string>): Record<string, string> {
    return {
      ...runEnv,
      TICKS_WATERMARK_FLUSH_INTERVAL_MS: String(FLUSH_INTERVAL_MS),
      TICKS_PERSISTER_GROUP_ID: `${runNames(id).groupId}-persister`,
      TICKS_CASSANDRA_KEYSPACE: runKeyspace(id),
    };
  }

  private get groupId(): string {
    return PersisterPhase.env(this.options.id, {}).TICKS_PERSISTER_GROUP_ID!;
  }

  get pid(): number {
    return this.process.pid;
  }

  async start(kafka: KafkaClient, changelogTopic: string): Promise<void> {
    await this.process.start();
    this.startedAt = Date.now();
    this.sampling = kafka.withAdmin((admin) => this.sampleLoop(admin, changelogTopic));
  }

  /** The pipeline has committed the whole backlog. */
  drainEnded(): void {
    this.drainEndedAt = Date.now() - this.startedAt;
  }

  /** The last sample (for progress lines). */
  latest(): PersisterSample | undefined {
    return this.samples[this.samples.length - 1];
  }

  /**
   * Waits until the persister has written and committed the whole changelog (after the drain's
   * end, two samples in a row with its lag at 0 and the changelog not grown between them),
   * stops it and returns the figures.
   */
  async finish(
    kafka: KafkaClient,
    changelogTopic: string,
    progress: BenchProgress,
    timeoutMs: number,
  ): Promise<PersisterResult> {
    if (this.drainEndedAt === undefined) this.drainEnded();
    const endedAt = this.drainEndedAt!;
    const deadline = Date.now() + timeoutMs;
    let caughtUpAt: number | undefined;
    let readUpTo = new Map<number, string>();
    let timedOut = false;
    progress.note('waiting for the persister to catch up with the changelog…');
    while (caughtUpAt === undefined) {
      await sleep(500);
      const after = this.samples.filter((s) => s.t >= endedAt);
      const [a, b] = after.slice(-2);
      if (a && b && b.lag === 0 && a.end === b.end && b.changes > 0) {
        caughtUpAt = after.find((s) => s.lag === 0 && s.end === b.end)!.t;
        readUpTo = b.ends;
      } else if (Date.now() > deadline) {
        timedOut = true;
        caughtUpAt = this.latest()?.t ?? endedAt;
        readUpTo = this.latest()?.ends ?? readUpTo;
      }
    }
    this.stopped = true;
    await this.sampling;
    const lastText = await this.process.metricsText();
    const peakRssBytes = this.process.memory().peakRss;
    // The changelog it had read when it caught up: the pipeline's punctuators may add records
    // (closed windows) after that, and a stopping persister takes no new batch.
    const stopStart = Date.now();
    await this.process.stop();
    const finalFlushSeconds = (Date.now() - stopStart) / 1000;
    const committed = await kafka.withAdmin((admin) =>
      admin.committedOffsets(this.groupId, changelogTopic),
    );
    let uncommittedAfterStop = 0;
    for (const [partition, end] of readUpTo)
      uncommittedAfterStop += Math.max(
        0,
        Number(end) - Math.max(0, Number(committed.get(partition) ?? 0)),
      );
    const snap = new MetricsSnapshot(lastText);
    const rowsByTable: Record<string, number> = {};
    for (const s of snap.samples)
      if (s.name === 'ticks_persister_rows_written_total' && s.labels.table)
        rowsByTable[s.labels.table] = s.value;
    const first = this.samples.find((s) => s.changes > 0);
    const atEnd = [...this.samples].reverse().find((s) => s.t <= endedAt);
    const caughtUp = this.samples.find((s) => s.t === caughtUpAt) ?? this.latest();
    return {
      changes: snap.total('ticks_persister_changes_total'),
      rows: snap.total('ticks_persister_rows_written_total'),
      rowsByTable,
      duringDrain: {
        ...rateBetween(first, atEnd),
        maxLag: Math.max(0, ...this.samples.filter((s) => s.t <= endedAt).map((s) => s.lag)),
      },
      overall: rateBetween(first, caughtUp),
      lagAtDrainEnd: atEnd?.lag ?? NaN,
      catchUpSeconds: Math.max(0, (caughtUpAt - endedAt) / 1000),
      finalFlushSeconds,
      uncommittedAfterStop,
      peakRssBytes,
      timedOut,
    };
  }

  /** Stops the process if `finish` did not (the run failed). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.sampling?.catch(() => undefined);
    await this.process.stop();
  }

  private async sampleLoop(admin: TopicAdmin, changelogTopic: string): Promise<void> {
    while (!this.stopped) {
      try {
        // The changelog's end first: a record the persister reports read is then within it.
        const ends = await admin.endOffsets(changelogTopic);
        const snap = new MetricsSnapshot(await this.process.metricsText());
        this.samples.push({
          t: Date.now() - this.startedAt,
          changes: snap.total('ticks_persister_changes_total'),
          rows: snap.total('ticks_persister_rows_written_total'),
          lag: await admin.groupLag(this.groupId, [changelogTopic]),
          ends,
          end: [...ends.values()].reduce((sum, o) => sum + Number(o), 0),
          cpu: {
            persister: cpuSeconds(this.process.pid) ?? NaN,
            cassandra: this.options.cassandraPid
              ? (cpuSeconds(this.options.cassandraPid) ?? NaN)
              : NaN,
          },
        });
      } catch {
        // A scrape that failed (the process busy for 10 s): the next one counts.
      }
      await sleep(500);
    }
  }
}

function rateBetween(
  from: PersisterSample | undefined,
  to: PersisterSample | undefined,
): PersisterRate {
  if (!from || !to || to.t <= from.t)
    return {
      seconds: 0,
      changesPerSecond: NaN,
      rowsPerSecond: NaN,
      persisterCores: NaN,
      cassandraCores: NaN,
    };
  const seconds = (to.t - from.t) / 1000;
  return {
    seconds,
    changesPerSecond: (to.changes - from.changes) / seconds,
    rowsPerSecond: (to.rows - from.rows) / seconds,
    persisterCores: (to.cpu.persister - from.cpu.persister) / seconds,
    cassandraCores: (to.cpu.cassandra - from.cpu.cassandra) / seconds,
  };
}
