import type { KafkaClient } from '../../runtime/kafka/kafka-client';
import type { BenchProgress } from './bench-progress';
import { meterDrain } from './drain-meter';
import type { FloorWork } from './floor-process';
import { PipelineProcess } from './pipeline-process';
import { CpuMeter } from './process-stats';

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
  /** Cores per process during the stage's drain (the floor process, Redis, Kafka, the machine). */
  cores: Record<string, number>;
  machineBusyCores: number;
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
    const floor = new PipelineProcess({
      env: options.env,
      script: 'bench/floor-process',
      nodeFlags: options.nodeFlags,
      args: [
        '--group',
        groupId,
        ...(stage.work.decode ? ['--decode'] : []),
        '--outputs-per-event',
        String(stage.work.outputsPerEvent),
        '--redis-commands-per-event',
        String(stage.work.redisCommandsPerEvent),
        ...(stage.work.rawRedis ? ['--raw-redis'] : []),
        ...(stage.work.asScript ? ['--as-script'] : []),
      ],
    });
    await floor.start();
    try {
      const meter = new CpuMeter(new Map([...options.pids, ['floor (node)', floor.pid]]));
      meter.begin();
      let begun = false;
      let share: ReturnType<CpuMeter['end']> | undefined;
      options.progress.start(`floor: ${stage.label}`, options.total);
      const drain = await meterDrain(options.kafka, groupId, options.inputTopics, options.total, {
        onSample: (s) => {
          options.progress.update(
            s.committed,
            s.t > 0 ? `${Math.round((s.committed * 1000) / s.t)} events/s` : '',
          );
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
      const cpu = share!;
      results.push({
        label: stage.label,
        work: stage.work,
        eventsPerSecond: drain.eventsPerSecond,
        seconds: (drain.lastCommitAt - drain.firstCommitAt) / 1000,
        cores: cpu.cores,
        machineBusyCores: cpu.machineBusyCores,
      });
    } finally {
      await floor.stop();
    }
  }
  return results;
}
