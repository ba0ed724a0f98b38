import type { KafkaClient } from '../../runtime/kafka/kafka-client';
import type { GroupConsumer } from '../../runtime/kafka/types';
import type { AvroCodec } from '../../schemas/avro-codec';
import { rate, type BenchProgress } from './bench-progress';
import { meterDrain } from './drain-meter';
import { followTopic } from './follow-topic';
import { percentiles, type Percentiles } from './latency-probe';
import { PipelineProcess, sleep } from './pipeline-process';
import { CpuMeter } from './process-stats';

/** What the floor pipeline does per input event, beside consuming and committing. */
export interface FloorWork {
  /** Decode each record's Avro value (Confluent wire format, schemas from the registry). */
  decode: boolean;
  /** Output records produced per input event (each an input value encoded again). */
  outputsPerEvent: number;
  /** Plain main-Redis commands per input event (HSET and ZADD, one pipeline per batch). */
  redisCommandsPerEvent: number;
  /**
   * Send them as RESP written straight to a socket (no client library: the cost of the Redis
   * protocol itself) instead of an ioredis pipeline.
   */
  rawRedis?: boolean;
  /**
   * Send them as one apply-writes script call per batch (JSON: ticks' write-behind transport,
   * stores/redis/lua/apply-writes-1.lua) instead of an ioredis pipeline.
   */
  asScript?: boolean;
}

/** The topic the floor's outputs go to (the run's prefix: deleted with the run). */
export function floorOutputTopic(topicPrefix: string): string {
  return `${topicPrefix}floor_out`;
}

/** Cores per process over a phase (process-stats.ts CpuMeter.end()). */
type CpuShare = ReturnType<CpuMeter['end']>;

export interface FloorStage {
  /** What the stage adds to the one before it. */
  label: string;
  work: FloorWork;
}

/**
 * The floor's stages, each adding one part of what a receipts pipeline cannot do without:
 * decoding its inputs, producing its outputs (ticks: ~0.24 updates and changelog records per
 * input event), writing its state to Redis — at issue 11's bound (4 commands per event) and its
 * long-run goal (2).
 */
export const FLOOR_STAGES: FloorStage[] = [
  {
    label: 'consume + commit',
    work: { decode: false, outputsPerEvent: 0, redisCommandsPerEvent: 0 },
  },
  { label: '+ Avro decode', work: { decode: true, outputsPerEvent: 0, redisCommandsPerEvent: 0 } },
  {
    label: '+ 0.25 outputs per event (Avro encode, produce)',
    work: { decode: true, outputsPerEvent: 0.25, redisCommandsPerEvent: 0 },
  },
  {
    label: '+ 2 main-Redis commands per event',
    work: { decode: true, outputsPerEvent: 0.25, redisCommandsPerEvent: 2 },
  },
  {
    label: '+ 4 main-Redis commands per event',
    work: { decode: true, outputsPerEvent: 0.25, redisCommandsPerEvent: 4 },
  },
  {
    label: "  the same 4, as one script call per batch (ticks' write-behind transport)",
    work: { decode: true, outputsPerEvent: 0.25, redisCommandsPerEvent: 4, asScript: true },
  },
  {
    label: '  the same 4, as RESP on a socket (no client library)',
    work: { decode: true, outputsPerEvent: 0.25, redisCommandsPerEvent: 4, rawRedis: true },
  },
];

export interface FloorResult {
  label: string;
  work: FloorWork;
  eventsPerSecond: number;
  seconds: number;
  /** What the floor process counted: the work it did, not what it was asked for. */
  done: FloorCounts;
  /** Cores per process during the stage's drain (the floor process, Redis, Kafka, the machine). */
  cpu: CpuShare;
}

/**
 * Drains the run's loaded inputs once per stage with the floor pipeline (floor-process.ts), each
 * stage in a Node process of its own and a consumer group of its own, with the same node flags
 * as the pipeline's: the most any pipeline of these parts drains on this machine.
 */
export async function runFloorPhase(options: {
  kafka: KafkaClient;
  env: Record<string, string>;
  groupPrefix: string;
  inputTopics: string[];
  total: number;
  /** Processes whose CPU is measured beside the floor's (the servers). */
  pids: Map<string, number>;
  nodeFlags?: string[];
  progress: BenchProgress;
  stages?: FloorStage[];
}): Promise<FloorResult[]> {
  const results: FloorResult[] = [];
  for (const [i, stage] of (options.stages ?? FLOOR_STAGES).entries()) {
    const groupId = `${options.groupPrefix}-floor-${i}`;
    const floor = floorProcess(options, groupId, stage.work);
    await floor.start();
    try {
      const meter = new CpuMeter(new Map([...options.pids, ['floor (node)', floor.pid]]));
      meter.begin();
      let begun = false;
      let share: CpuShare | undefined;
      options.progress.start(`floor: ${stage.label}`, options.total);
      const drain = await meterDrain(options.kafka, groupId, options.inputTopics, options.total, {
        onSample: (s) => {
          options.progress.update(s.committed, rate(s.committed, s.t));
          // As ticks' drain: from the first commit seen (the group's join left out) to the last.
          if (s.committed > 0 && !begun && s.committed < options.total) {
            meter.begin();
            begun = true;
          }
          if (s.committed >= options.total) share = meter.end();
        },
      });
      options.progress.stop();
      if (drain.timedOut) throw new Error(`the floor stage "${stage.label}" did not drain`);
      results.push({
        label: stage.label,
        work: stage.work,
        done: floorCounts(await floor.metricsText()),
        eventsPerSecond: drain.eventsPerSecond,
        seconds: (drain.lastCommitAt - drain.firstCommitAt) / 1000,
        cpu: share!,
      });
    } finally {
      await floor.stop();
    }
  }
  return results;
}

export interface FloorCounts {
  events: number;
  outputs: number;
  /** Redis commands answered without an error. */
  redisCommandsApplied: number;
}

/** The floor process's counters (its /metrics: floor-process.ts). */
export function floorCounts(metricsText: string): FloorCounts {
  const counter = (name: string) => {
    const line = metricsText.split('\n').find((l) => l.startsWith(`${name} `));
    if (!line) throw new Error(`the floor process reported no ${name}`);
    return Number(line.slice(name.length + 1));
  };
  return {
    events: counter('floor_events_total'),
    outputs: counter('floor_outputs_total'),
    redisCommandsApplied: counter('floor_redis_commands_applied_total'),
  };
}

/** The stage the floor's real-time run uses: the most of it, with ticks' Redis transport. */
export const FLOOR_REAL_TIME_WORK: FloorWork = {
  decode: true,
  outputsPerEvent: 0.25,
  redisCommandsPerEvent: 4,
  asScript: true,
};

export interface FloorLatencyResult {
  work: FloorWork;
  /** Event stamped → its output produced (the record's timestamp), over every output. */
  produced: Percentiles;
  cpu: CpuShare;
}

/**
 * The floor in real time: the floor pipeline (FLOOR_REAL_TIME_WORK) in a process of its own
 * catches up with the run's inputs, then `offer` offers the latency phase's load again; its
 * outputs are timed as ticks' updates are. Run after ticks' pipeline stopped: the machine is the
 * floor's, as it was ticks' in its latency phase.
 */
export async function runFloorLatency(options: {
  kafka: KafkaClient;
  codec: AvroCodec;
  env: Record<string, string>;
  groupPrefix: string;
  topicPrefix: string;
  inputTopics: string[];
  /** Input events already in the topics. */
  backlog: number;
  pids: Map<string, number>;
  nodeFlags?: string[];
  progress: BenchProgress;
  offer(probe: { window(since: number): void }, groupId: string): Promise<{ events: number }>;
}): Promise<FloorLatencyResult> {
  const groupId = `${options.groupPrefix}-floor-rt`;
  const work = FLOOR_REAL_TIME_WORK;
  const floor = floorProcess(options, groupId, work);
  // Event → output produced, for the floor's outputs (each an input re-encoded, stamped by
  // the producer when sent), over the events of the offered load.
  const produced: number[] = [];
  let since = Number.POSITIVE_INFINITY;
  let probe: GroupConsumer | undefined;
  await floor.start();
  try {
    options.progress.start('floor: catching up', options.backlog);
    await meterDrain(options.kafka, groupId, options.inputTopics, options.backlog, {
      onSample: (s) => options.progress.update(s.committed),
    });
    options.progress.stop();
    probe = await followTopic(
      options.kafka,
      floorOutputTopic(options.topicPrefix),
      `${groupId}-probe`,
      async (r) => {
        if (r.value === null) return;
        const { value } = await options.codec.decode(r.value);
        const stamped = (value as { occurred_at?: number }).occurred_at;
        if (stamped !== undefined && stamped >= since) produced.push(r.timestamp - stamped);
      },
    );
    const meter = new CpuMeter(new Map([...options.pids, ['floor (node)', floor.pid]]));
    meter.begin();
    const offered = await options.offer({ window: (from) => (since = from) }, groupId);
    const cpu = meter.end();
    await meterDrain(
      options.kafka,
      groupId,
      options.inputTopics,
      options.backlog + offered.events,
      { timeoutMs: 120_000 },
    );
    await sleep(1_000);
    return { work, produced: percentiles(produced), cpu };
  } finally {
    await probe?.stop();
    await floor.stop();
  }
}

/** The floor pipeline (floor-process.ts) doing `work` in group `groupId`, not started yet. */
function floorProcess(
  options: { env: Record<string, string>; nodeFlags?: string[] },
  groupId: string,
  work: FloorWork,
): PipelineProcess {
  return new PipelineProcess({
    env: options.env,
    script: 'bench/floor-process',
    nodeFlags: options.nodeFlags,
    args: [
      '--group',
      groupId,
      ...(work.decode ? ['--decode'] : []),
      '--outputs-per-event',
      String(work.outputsPerEvent),
      '--redis-commands-per-event',
      String(work.redisCommandsPerEvent),
      ...(work.rawRedis ? ['--raw-redis'] : []),
      ...(work.asScript ? ['--as-script'] : []),
    ],
  });
}
