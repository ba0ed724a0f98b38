import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../config/config';
import { ACTIVE_WINDOWS, badgeWritesPerChange, pushReduction } from '../../runtime/metrics';
import { connectRedis, type RedisClient } from '../../stores/redis/connect';
import { AvroCodec } from '../../schemas/avro-codec';
import { ensureTopics } from '../../runtime/ensure-topics';
import { KafkaClient } from '../../runtime/kafka/kafka-client';
import type { TopicAdmin } from '../../runtime/kafka/topic-admin';
import type { RecordProducer } from '../../runtime/kafka/types';
import { topicNames } from '../../runtime/topics';
import { cleanUpRun, runEnv } from './bench-cleanup';
import { BaselineConsumer } from './baseline-consumer';
import { BenchProgress, rate } from './bench-progress';
import { ChatTraffic, DEFAULT_CHAT_TRAFFIC, type ChatTrafficOptions } from './chat-traffic';
import { meterDrain, type DrainSample } from './drain-meter';
import { EventLoader } from './event-loader';
import {
  runFloorLatency,
  runFloorPhase,
  type FloorLatencyResult,
  type FloorResult,
} from './floor-phase';
import { LatencyProbe, byWindowPhase, cdf, percentiles, type Percentiles } from './latency-probe';
import { PersisterPhase, type PersisterResult } from './persister-phase';
import { PipelineGroup } from './pipeline-group';
import { sleep } from './pipeline-process';
import { CpuMeter, loadAverage, pidListeningOn, topProcesses } from './process-stats';
import { profileByArea, summariseProfile, type ProfileFrame } from './profile-summary';
import { MetricsSnapshot } from './prometheus-text';
import { redisCeiling, type CeilingResult } from './redis-ceiling';
import { scriptCost, type ScriptCost } from './script-cost';
import { localKafkaLogDirs, topicBytes, type TopicBytes } from './topic-bytes';
import { runServing, type ServingOptions, type ServingResult } from './serving-run';
import {
  commandDelta,
  commandStats,
  estimateMemory,
  serverPid,
  type MemoryEstimate,
} from './redis-probe';

export interface BenchOptions {
  /** Run id: names the run's topics, groups and keys (see runNames). */
  id: string;
  events: number;
  latencyRate: number;
  latencyDuration: number;
  partitions: number;
  seed: number;
  traffic: Partial<ChatTrafficOptions>;
  memorySamples: number;
  ceilingRequests: number;
  /** Seconds of Redis command counts taken before a phase, to subtract other users' commands. */
  quietSeconds: number;
  profileDir?: string;
  outDir: string;
  keep: boolean;
  /** Extra node flags of the pipeline process. */
  nodeFlags?: string[];
  /** The serving phase (query API and gateway) after the pipeline's; none when undefined. */
  serving?: Omit<ServingOptions, 'id' | 'partitions' | 'outDir'>;
  /** Run the persister beside the pipeline's drain and measure it (on unless false). */
  persister?: boolean;
  /** Drain the inputs with the stack floor's stages too (floor-phase.ts) before ticks. */
  floor?: boolean;
  /** Pipeline processes in the run's consumer group (1 unless given). */
  processes?: number;
}

/** Group pushes sent at window close, and what the direct-chat rule would have sent instead. */
export interface GroupPushes {
  sent: number;
  unwindowed: number;
  windows: number;
}

export interface CpuShare {
  seconds: number;
  cores: Record<string, number>;
  machineBusyCores: number;
  otherCores: number;
  /** Per process: its main thread on a CPU, and runnable but waiting for one (seconds per second). */
  mainThreads?: Record<string, { running: number; waiting: number }>;
}

export interface RedisCommands {
  total: number;
  /** Commands by other clients of the shared server, estimated from the quiet sample. */
  background: number;
  perEvent: number;
  evalshaPerEvent: number;
  perSecond: number;
  top: Record<string, number>;
}

export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    loadBefore: string;
    loadAfter: string;
    topBefore: string[];
    topAfter: string[];
  };
  config: {
    partitions: number;
    windowMs: number;
    windowGraceMs: number;
    punctuateIntervalMs: number;
    /** Node flags of the pipeline process. */
    nodeFlags: string[];
    /** Pipeline processes in one consumer group (their CPU: `ticks (node) 1`, `2`…). */
    processes: number;
  };
  workload: ChatTrafficOptions & {
    inputEvents: number;
    setupEvents: number;
    trafficEvents: number;
    conversations: number;
    messages: number;
    delivered: number;
    reads: number;
    settings: number;
  };
  load: { events: number; seconds: number; eventsPerSecond: number };
  baseline: { eventsPerSecond: number; seconds: number };
  /** The stack floor's stages (null: not run, see --floor). */
  floor: FloorResult[] | null;
  /** The floor at the latency phase's offered load, after ticks' (null: not run). */
  floorLatency: FloorLatencyResult | null;
  ticks: {
    eventsPerSecond: number;
    seconds: number;
    ratioToBaseline: number;
    cpu: CpuShare;
    redisCommands: RedisCommands;
    heldReceipts: number;
    /** Input events each pipeline process applied in the drain (how the group shared the work). */
    eventsPerProcess: number[];
    /** The drain rate once the setup events (memberships) are behind: the chat traffic alone. */
    trafficEventsPerSecond: number;
    /** Records per step and topic (mean), and the mean time from produce to commit of a step. */
    steps: StepStats;
    deadLetters: number;
  };
  latency: {
    offeredRate: number;
    achievedRate: number;
    seconds: number;
    events: number;
    maxLag: number;
    direct: Percentiles;
    /** Direct updates by when they were produced: ms after a window end, tenths of the window. */
    directByWindowPhase: Array<{ phaseMs: number } & Percentiles>;
    groupSummary: Percentiles;
    unreadSync: Percentiles;
    /** Event → update as read by a downstream consumer (adds its fetch wait). */
    received: { direct: Percentiles; groupSummary: Percentiles };
    cpu: CpuShare;
    redisCommands: RedisCommands;
    steps: StepStats;
  };
  ratios: {
    /**
     * 1 − group pushes sent ÷ pushes the direct-chat rule would have sent for the same receipts
     * (runtime/metrics.ts pushReduction): over the drain, in real time, and in real time in the
     * windows of at least 20 receipts. NaN when nothing would have been sent.
     */
    pushReduction: { drain: number; latency: number; activeWindows: number };
    groupPushes: { drain: GroupPushes; latency: GroupPushes; activeWindows: GroupPushes };
    receiptsPerWindow: { drain: number; latency: number };
    groupReceiptsAbsorbed: { drain: number; latency: number };
    /** Badge changes the dedupe marks skipped, and where the mark was found. */
    dedupe: {
      hitRate: number;
      memoryHits: number;
      auxHits: number;
      misses: number;
      /** Of the marks memory did not know, the share the auxiliary Redis had. */
      auxHitRate: number;
    };
    /**
     * Main-Redis badge writes per source really added to or removed from a badge (whole run;
     * real time), and the changes themselves.
     */
    badgeWritesPerChange: { run: number; latency: number; adds: number; removes: number };
    mainRedisBadgeWritesPerMessage: number;
    mainRedisBadgeWritesPerMessageLatency: number;
    /** Sources really added to a badge, per message (the writes a message cannot avoid). */
    badgeAddsPerMessage: number;
    /**
     * Main-Redis badge writes per message of each kind of conversation (whole run): direct chats
     * are where one sender's bursts go to one recipient.
     */
    mainRedisBadgeWritesPerMessageByKind: { direct: number; group: number };
    messagesCoveredPerRead: number;
  };
  memory: {
    redisMain: MemoryEstimate;
    redisAux: MemoryEstimate;
    redisBytesPerMessage: number;
    messagesInState: number;
    nodePeakRssBytes: number;
  };
  /** The persister beside the drain (null when the run left it out). */
  persister: PersisterResult | null;
  /**
   * The run's topics on the brokers' disks after the drain and the persister (short names: the
   * run's prefix left out), and the drain's input events they came from; null when the brokers'
   * log directories are not on this machine.
   */
  kafka: { events: number; topics: Record<string, TopicBytes> } | null;
  ceiling: CeilingResult | null;
  /** Redis CPU per call of ticks' scripts, one event per call, on a throwaway server. */
  scripts: Record<string, ScriptCost> | null;
  redisShare: { drainCommandsPerSecond: number; redisMainCores: number };
  profile: { file: string; top: ProfileFrame[]; byArea: ProfileFrame[] } | null;
  /** The query API and the gateway under load (null: not run). */
  serving: ServingResult | null;
  series: {
    baseline: DrainSample[];
    ticks: DrainSample[];
    latencyCdf: { direct: Array<[number, number]>; groupSummary: Array<[number, number]> };
  };
}

/**
 * The whole benchmark, in one run on the local stack: load a seeded workload into fresh topics,
 * drain it with a bare kafkajs consumer (baseline) and with the processors, then offer a fixed
 * load in real time and time the updates; counters, Redis and memory figures along the way.
 * Everything the run creates (topics, groups, Redis keys) has its own prefix and is deleted at
 * the end unless `keep`.
 */
export async function runBench(options: BenchOptions, command: string): Promise<BenchResult> {
  const progress = new BenchProgress();
  const startedAt = new Date();
  const id = options.id;
  const env = runEnv(id, options.partitions, 'warn');
  const config = loadConfig({ ...process.env, ...env });
  const topics = topicNames(config);
  const inputTopics = [topics.conversationEvents, topics.receiptEvents];
  const groups = {
    ticks: config.kafka.groupId,
    baseline: `${config.kafka.groupId}-baseline`,
    latency: `${config.kafka.groupId}-latency`,
  };
  const kafka = new KafkaClient({ brokers: config.kafka.brokers, clientId: `ticks-bench-${id}` });
  const codec = AvroCodec.connect({ url: config.registryUrl });
  const main = await connectRedis(config.redis.main, 'main');
  const aux = await connectRedis(config.redis.aux, 'auxiliary');
  const machineBefore = { load: loadAverage(), top: topProcesses() };
  progress.note(
    `ticks bench ${id}: ${options.events} events, ${options.partitions} partitions, load ${machineBefore.load}`,
  );

  let producer: RecordProducer | undefined;
  let pipeline: PipelineGroup | undefined;
  let persister: PersisterPhase | undefined;
  let probe: LatencyProbe | undefined;
  try {
    await ensureTopics(kafka, config);
    await codec.registerAll(topics);
    producer = await kafka.producer();

    // ---- load -------------------------------------------------------------------------------
    const traffic = new ChatTraffic({
      ...DEFAULT_CHAT_TRAFFIC,
      ...options.traffic,
      seed: options.seed,
      nominalRate: options.latencyRate,
      runId: `${id}-`,
    });
    const loader = new EventLoader(producer, codec, topics);
    let settings = 0;
    const loadStart = Date.now();
    for (const e of traffic.setUp(Date.now())) {
      if (e.role === 'userSettings') settings++;
      await loader.add(e);
    }
    await loader.flush();
    const setupEvents = traffic.counts.setupEvents - settings;
    progress.start('loading', options.events);
    for (let i = 0; i < options.events; i++) {
      await loader.add(traffic.next(Date.now()));
      if ((i & 0x3fff) === 0)
        progress.update(i, rate(loader.produced, Date.now() - loadStart), 'encode + produce');
    }
    await loader.flush();
    const loadSeconds = (Date.now() - loadStart) / 1000;
    progress.update(options.events, rate(loader.produced, Date.now() - loadStart));
    progress.stop();
    const drainTotal = setupEvents + options.events;
    const countsAfterLoad = structuredClone(traffic.counts);

    // ---- baseline -----------------------------------------------------------------------------
    const baseline = new BaselineConsumer(kafka, inputTopics);
    progress.start('baseline (kafkajs)', drainTotal);
    await baseline.start(groups.baseline);
    const baselineDrain = await meterDrain(kafka, groups.baseline, inputTopics, drainTotal, {
      onSample: (s) => progress.update(s.committed, rate(s.committed, s.t)),
    });
    progress.stop();
    await baseline.stop();
    if (baselineDrain.timedOut) throw new Error('the baseline consumer did not finish');

    // ---- the stack's floor (opt-in) -------------------------------------------------------------
    const serverPids = new Map<string, number>();
    const redisMainPid = await serverPid(main);
    const redisAuxPid = await serverPid(aux);
    if (redisMainPid) serverPids.set('redis-main', redisMainPid);
    if (redisAuxPid) serverPids.set('redis-aux', redisAuxPid);
    const kafkaPid = pidListeningOn(Number(config.kafka.brokers[0]!.split(':')[1]));
    if (kafkaPid) serverPids.set('kafka', kafkaPid);
    const floor = options.floor
      ? await runFloorPhase({
          kafka,
          env,
          groupPrefix: config.kafka.groupId,
          inputTopics,
          total: drainTotal,
          pids: serverPids,
          nodeFlags: options.nodeFlags,
          progress,
        })
      : null;

    // ---- ticks drain --------------------------------------------------------------------------
    const pids = new Map<string, number>([['bench (this process)', process.pid], ...serverPids]);
    const quietDrain = await quietRate(main, options.quietSeconds, progress);
    if (options.profileDir) mkdirSync(options.profileDir, { recursive: true });
    const profilesBefore = options.profileDir
      ? new Set(readdirSync(options.profileDir))
      : new Set<string>();
    mkdirSync(options.outDir, { recursive: true });
    if (options.persister !== false) {
      // Started first: its Cassandra migration is not part of the drain.
      const cassandraPid = pidListeningOn(Number(config.cassandra.contactPoints[0]!.split(':')[1]));
      persister = new PersisterPhase({ id, env, outDir: options.outDir, cassandraPid });
      await persister.start(kafka, topics.stateChanges);
      pids.set('persister (node)', persister.pid);
      if (cassandraPid) pids.set('cassandra', cassandraPid);
    }
    pipeline = new PipelineGroup(options.processes ?? 1, {
      env,
      cpuProfileDir: options.profileDir,
      nodeFlags: options.nodeFlags,
      logFile: path.join(options.outDir, `pipeline-${id}.log`),
    });
    await pipeline.start();
    for (const [name, pid] of pipeline.names()) pids.set(name, pid);
    if (pipeline.processes.length > 1)
      await waitForMembers(kafka, groups.ticks, pipeline.processes.length, progress);
    const drainCpu = new CpuMeter(pids);
    let drainCommandsBefore = await commandStats(main);
    let drainMetricsBefore: MetricsSnapshot | undefined;
    let drainCommandsAfter = drainCommandsBefore;
    let drainCpuShare: CpuShare | undefined;
    // From the first commit on (the processes' start-up left out); from here when the whole
    // drain fits in one sample (a tiny run on a quiet machine), so the window is never empty.
    drainCpu.begin();
    progress.start('ticks drain', drainTotal);
    const ticksDrain = await meterDrain(kafka, groups.ticks, inputTopics, drainTotal, {
      onSample: async (s) => {
        const persisterLag = persister?.latest()?.lag;
        progress.update(
          s.committed,
          rate(s.committed, s.t),
          `rss ${mib(pipeline!.memory().rss)}${persisterLag === undefined ? '' : `, persister lag ${persisterLag}`}`,
        );
        if (s.committed > 0 && !drainMetricsBefore) {
          if (s.committed < drainTotal) drainCpu.begin();
          drainCommandsBefore = await commandStats(main);
          drainMetricsBefore = new MetricsSnapshot(await pipeline!.metricsText());
        }
        if (s.committed >= drainTotal) {
          persister?.drainEnded();
          drainCpuShare = drainCpu.end();
          drainCommandsAfter = await commandStats(main);
        }
      },
    });
    progress.stop();
    if (ticksDrain.timedOut) throw new Error(`ticks did not drain: ${pipeline.stderr()}`);
    const afterDrain = new MetricsSnapshot(await pipeline.metricsText());
    const eventsPerProcess = (await pipeline.metricsTexts()).map((text) =>
      new MetricsSnapshot(text).total('ticks_events_in_total'),
    );
    const drainSeconds = (ticksDrain.lastCommitAt - ticksDrain.firstCommitAt) / 1000;
    const drainEvents = ticksDrain.measuredEvents;
    const persisted = persister
      ? await persister.finish(kafka, topics.stateChanges, progress, 10 * 60_000)
      : null;
    persister = undefined;
    pids.delete('persister (node)');
    const kafkaLogDirs = localKafkaLogDirs();
    const kafkaBytes =
      kafkaLogDirs.length === 0
        ? null
        : {
            events: drainTotal,
            topics: await kafka.withAdmin((admin) =>
              topicBytes(admin, config.topics.prefix, kafkaLogDirs),
            ),
          };
    const drainCommands = redisCommands(
      drainCommandsBefore,
      drainCommandsAfter,
      quietDrain,
      drainSeconds,
      drainEvents,
    );

    // ---- memory -------------------------------------------------------------------------------
    progress.note('sampling Redis memory (MEMORY USAGE) of the run’s keys…');
    const redisMain = await estimateMemory(
      main,
      `${config.redis.keyPrefix}:*`,
      options.memorySamples,
    );
    const redisAux = await estimateMemory(
      aux,
      `${config.redis.keyPrefix}:*`,
      options.memorySamples,
    );
    const messagesInState = countsAfterLoad.messages.direct + countsAfterLoad.messages.group;

    // ---- latency at a fixed offered load ------------------------------------------------------
    probe = new LatencyProbe(kafka, codec, topics.receiptUpdates);
    await probe.start(groups.latency);
    const quietLatency = await quietRate(main, options.quietSeconds, progress);
    const beforeLatency = new MetricsSnapshot(await pipeline.metricsText());
    const latencyCommandsBefore = await commandStats(main);
    const latencyCpu = new CpuMeter(pids);
    latencyCpu.begin();
    const offered = await offerLoad(
      traffic,
      new EventLoader(producer, codec, topics, 1_000_000),
      options.latencyRate,
      options.latencyDuration,
      probe,
      kafka,
      groups.ticks,
      inputTopics,
      progress,
    );
    const latencyCpuShare = latencyCpu.end();
    const latencyCommandsAfter = await commandStats(main);
    // Let the last windows close and their summaries arrive.
    progress.note('waiting for the last windows to close…');
    const total = drainTotal + offered.events;
    await meterDrain(kafka, groups.ticks, inputTopics, total, { timeoutMs: 120_000 });
    await sleep(config.windowMs + config.windowGraceMs + 4 * config.punctuateIntervalMs + 1_500);
    await probe.stop();
    const afterLatencyText = await pipeline.metricsText();
    writeFileSync(path.join(options.outDir, `metrics-${id}.txt`), afterLatencyText);
    const afterLatency = new MetricsSnapshot(afterLatencyText);
    const latencyCommands = redisCommands(
      latencyCommandsBefore,
      latencyCommandsAfter,
      quietLatency,
      offered.seconds,
      offered.events,
    );

    const nodePeakRssBytes = pipeline.memory().peakRss;
    for (const [name] of pipeline.names()) pids.delete(name);
    await pipeline.stop();
    pipeline = undefined;
    // What ticks was offered (the floor's own offered load below is not part of the ratios).
    const counts = structuredClone(traffic.counts);
    // The floor at the same offered load, once ticks' pipeline no longer shares the machine.
    const floorLatency = options.floor
      ? await runFloorLatency({
          kafka,
          codec,
          env,
          groupPrefix: config.kafka.groupId,
          topicPrefix: config.topics.prefix,
          inputTopics,
          backlog: drainTotal + offered.events,
          pids: new Map([['bench (this process)', process.pid], ...serverPids]),
          nodeFlags: options.nodeFlags,
          progress,
          offer: (floorProbe, floorGroup) =>
            offerLoad(
              traffic,
              new EventLoader(producer!, codec, topics, 1_000_000),
              options.latencyRate,
              options.latencyDuration,
              floorProbe,
              kafka,
              floorGroup,
              inputTopics,
              progress,
            ),
        })
      : null;
    let profile: BenchResult['profile'] = null;
    if (options.profileDir) {
      // node writes one profile per thread (tsx's loader runs in a worker): the main
      // thread's is the largest.
      const file = readdirSync(options.profileDir)
        .filter((f) => f.endsWith('.cpuprofile') && !profilesBefore.has(f))
        .sort(
          (a, b) =>
            fileSize(path.join(options.profileDir!, b)) -
            fileSize(path.join(options.profileDir!, a)),
        )[0];
      if (file) {
        const full = path.join(options.profileDir, file);
        profile = { file: full, top: summariseProfile(full, 15), byArea: profileByArea(full) };
      }
    }

    // ---- ceiling ------------------------------------------------------------------------------
    let ceiling: CeilingResult | null = null;
    let scripts: Record<string, ScriptCost> | null = null;
    if (options.ceilingRequests > 0) {
      progress.note('redis-benchmark on a throwaway redis-server…');
      ceiling = await redisCeiling(options.ceilingRequests);
      progress.note("ticks' scripts on a throwaway redis-server, one event per call…");
      scripts = await scriptCost();
    }

    // ---- figures ------------------------------------------------------------------------------
    const m = (snap: MetricsSnapshot, name: string, labels: Record<string, string> = {}) =>
      snap.total(name, labels);
    const d = (a: MetricsSnapshot, b: MetricsSnapshot, name: string, labels = {}) =>
      MetricsSnapshot.delta(a, b, name, labels);
    const absorbedDrain = m(afterDrain, 'ticks_group_receipts_absorbed_total');
    const windowsDrain = m(afterDrain, 'ticks_windows_closed_total');
    const absorbedLatency = d(beforeLatency, afterLatency, 'ticks_group_receipts_absorbed_total');
    const windowsLatency = d(beforeLatency, afterLatency, 'ticks_windows_closed_total');
    // The figures of runtime/metrics.ts's definition, from the pipeline's own counters.
    const groupPushes = (
      before: MetricsSnapshot | undefined,
      after: MetricsSnapshot,
      windows: Record<string, string> = {},
    ): GroupPushes => {
      const delta = (name: string, labels: Record<string, string>) =>
        after.total(name, labels) - (before?.total(name, labels) ?? 0);
      return {
        sent: delta('ticks_group_pushes_sent_total', windows),
        unwindowed: delta('ticks_group_pushes_unwindowed_total', windows),
        windows: delta('ticks_windows_closed_total', windows),
      };
    };
    const pushesDrain = groupPushes(undefined, afterDrain);
    const pushesLatency = groupPushes(beforeLatency, afterLatency);
    const pushesActive = groupPushes(beforeLatency, afterLatency, {
      window_receipts: ACTIVE_WINDOWS,
    });
    const reduction = (p: GroupPushes) => pushReduction(p.sent, p.unwindowed) ?? NaN;
    const memoryHits = m(afterLatency, 'ticks_badge_dedupe_total', { result: 'memory_hit' });
    const auxHits = m(afterLatency, 'ticks_badge_dedupe_total', { result: 'aux_hit' });
    const misses = m(afterLatency, 'ticks_badge_dedupe_total', { result: 'miss' });
    const messagesApplied = m(afterLatency, 'ticks_events_in_total', { type: 'message_sent' });
    const badgeWrites = m(afterLatency, 'ticks_main_redis_badge_writes_total');
    const latencyMessages = d(beforeLatency, afterLatency, 'ticks_events_in_total', {
      type: 'message_sent',
    });
    const latencyBadgeWrites = d(
      beforeLatency,
      afterLatency,
      'ticks_main_redis_badge_writes_total',
    );
    const badgeAdds = m(afterLatency, 'ticks_badge_changes_total', { op: 'add' });
    const badgeRemoves = m(afterLatency, 'ticks_badge_changes_total', { op: 'remove' });
    const latencyBadgeChanges = d(beforeLatency, afterLatency, 'ticks_badge_changes_total');
    const reads = counts.reads.direct + counts.reads.group;
    const redisMainCores = drainCpuShare?.cores['redis-main'] ?? NaN;

    const result: BenchResult = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command,
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
        node: process.version,
        loadBefore: machineBefore.load,
        loadAfter: loadAverage(),
        topBefore: machineBefore.top,
        topAfter: topProcesses(),
      },
      config: {
        partitions: options.partitions,
        windowMs: config.windowMs,
        windowGraceMs: config.windowGraceMs,
        punctuateIntervalMs: config.punctuateIntervalMs,
        nodeFlags: options.nodeFlags ?? [],
        processes: options.processes ?? 1,
      },
      workload: {
        ...traffic.options,
        inputEvents: total,
        setupEvents,
        trafficEvents: options.events,
        conversations: traffic.conversations,
        messages: countsAfterLoad.messages.direct + countsAfterLoad.messages.group,
        delivered: countsAfterLoad.delivered.direct + countsAfterLoad.delivered.group,
        reads: countsAfterLoad.reads.direct + countsAfterLoad.reads.group,
        settings,
      },
      load: {
        events: loader.produced,
        seconds: loadSeconds,
        eventsPerSecond: loader.produced / loadSeconds,
      },
      baseline: {
        eventsPerSecond: baselineDrain.eventsPerSecond,
        seconds: (baselineDrain.lastCommitAt - baselineDrain.firstCommitAt) / 1000,
      },
      floor,
      floorLatency,
      ticks: {
        eventsPerSecond: ticksDrain.eventsPerSecond,
        trafficEventsPerSecond: rateAfter(ticksDrain.samples, setupEvents),
        eventsPerProcess,
        seconds: drainSeconds,
        ratioToBaseline: ticksDrain.eventsPerSecond / baselineDrain.eventsPerSecond,
        cpu: drainCpuShare ?? { seconds: 0, cores: {}, machineBusyCores: NaN, otherCores: NaN },
        redisCommands: drainCommands,
        heldReceipts: m(afterDrain, 'ticks_held_receipts_total', { outcome: 'held' }),
        deadLetters: m(afterDrain, 'ticks_dead_letters_total'),
        steps: stepStats(undefined, afterDrain),
      },
      latency: {
        offeredRate: options.latencyRate,
        achievedRate: offered.events / offered.seconds,
        seconds: offered.seconds,
        events: offered.events,
        maxLag: offered.maxLag,
        steps: stepStats(beforeLatency, afterLatency),
        direct: percentiles(probe.produced.direct),
        directByWindowPhase: byWindowPhase(
          probe.produced.direct,
          probe.directProducedAt,
          config.windowMs,
          config.windowGraceMs,
          config.windowMs / 10,
        ),
        groupSummary: percentiles(probe.produced.group_summary),
        unreadSync: percentiles(probe.produced.unread_sync),
        received: {
          direct: percentiles(probe.received.direct),
          groupSummary: percentiles(probe.received.group_summary),
        },
        cpu: latencyCpuShare,
        redisCommands: latencyCommands,
      },
      ratios: {
        pushReduction: {
          drain: reduction(pushesDrain),
          latency: reduction(pushesLatency),
          activeWindows: reduction(pushesActive),
        },
        groupPushes: { drain: pushesDrain, latency: pushesLatency, activeWindows: pushesActive },
        receiptsPerWindow: {
          drain: absorbedDrain / windowsDrain,
          latency: absorbedLatency / windowsLatency,
        },
        groupReceiptsAbsorbed: { drain: absorbedDrain, latency: absorbedLatency },
        dedupe: {
          hitRate: (memoryHits + auxHits) / (memoryHits + auxHits + misses),
          memoryHits,
          auxHits,
          misses,
          auxHitRate: auxHits / (auxHits + misses),
        },
        badgeWritesPerChange: {
          run: badgeWritesPerChange(badgeWrites, badgeAdds + badgeRemoves) ?? NaN,
          latency: badgeWritesPerChange(latencyBadgeWrites, latencyBadgeChanges) ?? NaN,
          adds: badgeAdds,
          removes: badgeRemoves,
        },
        mainRedisBadgeWritesPerMessage: badgeWrites / messagesApplied,
        mainRedisBadgeWritesPerMessageLatency: latencyBadgeWrites / latencyMessages,
        badgeAddsPerMessage: badgeAdds / messagesApplied,
        mainRedisBadgeWritesPerMessageByKind: {
          direct:
            m(afterLatency, 'ticks_main_redis_badge_writes_total', {
              conversation_kind: 'direct',
            }) / counts.messages.direct,
          group:
            m(afterLatency, 'ticks_main_redis_badge_writes_total', { conversation_kind: 'group' }) /
            counts.messages.group,
        },
        messagesCoveredPerRead: counts.messagesCoveredByReads / reads,
      },
      memory: {
        redisMain,
        redisAux,
        redisBytesPerMessage: redisMain.bytes / messagesInState,
        messagesInState,
        nodePeakRssBytes,
      },
      persister: persisted,
      kafka: kafkaBytes,
      ceiling,
      scripts,
      redisShare: { drainCommandsPerSecond: drainCommands.perSecond, redisMainCores },
      profile,
      serving: null,
      series: {
        baseline: baselineDrain.samples,
        ticks: ticksDrain.samples,
        latencyCdf: {
          direct: cdf(probe.produced.direct),
          groupSummary: cdf(probe.produced.group_summary),
        },
      },
    };
    if (options.serving) {
      // The pipeline stopped above: the machine is the serving side's.
      result.serving = await runServing(
        { ...options.serving, id, partitions: options.partitions, outDir: options.outDir },
        progress,
      );
      result.finishedAt = new Date().toISOString();
    }
    return result;
  } finally {
    progress.stop();
    await probe?.stop().catch(() => undefined);
    await pipeline?.stop().catch(() => undefined);
    await persister?.stop().catch(() => undefined);
    await producer?.close().catch(() => undefined);
    main.disconnect();
    aux.disconnect();
    if (!options.keep) {
      progress.note('cleaning up: topics, consumer groups, Redis keys of this run…');
      await cleanUpRun(id, config).catch((err: unknown) =>
        progress.note(`cleanup failed (npm run bench -- --clean ${id}): ${String(err)}`),
      );
    }
  }
}

/** Offers `ratePerSecond` events in real time for `seconds`, stamped as they are produced. */
async function offerLoad(
  traffic: ChatTraffic,
  loader: EventLoader,
  ratePerSecond: number,
  seconds: number,
  probe: { window(since: number): void },
  kafka: KafkaClient,
  groupId: string,
  inputTopics: string[],
  progress: BenchProgress,
): Promise<{ events: number; seconds: number; maxLag: number }> {
  const total = Math.round(ratePerSecond * seconds);
  const start = Date.now();
  probe.window(start);
  progress.start(`latency @${ratePerSecond}/s`, total);
  let sent = 0;
  let maxLag = 0;
  let lastLagCheck = start;
  let lagCheck: Promise<void> | undefined;
  // One admin connection for the lag checks of the whole phase (connecting costs more).
  let releaseAdmin!: () => void;
  const adminDone = new Promise<void>((r) => (releaseAdmin = r));
  const admin = new Promise<TopicAdmin>((resolve, reject) => {
    kafka
      .withAdmin(async (a) => {
        resolve(a);
        await adminDone;
      })
      .catch(reject);
  });
  const lagAdmin = await admin;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * ratePerSecond));
    for (; sent < due; sent++) {
      await loader.add(traffic.next(Date.now()));
    }
    await loader.flush();
    if (!lagCheck && Date.now() - lastLagCheck > 1000) {
      lastLagCheck = Date.now();
      lagCheck = lagAdmin
        .groupLag(groupId, inputTopics)
        .then((lag) => {
          maxLag = Math.max(maxLag, lag);
          progress.update(sent, rate(sent, Date.now() - start), `lag ${lag}`);
        })
        .catch(() => undefined)
        .finally(() => (lagCheck = undefined));
    }
    // Ticks of 20 ms: a produce request per tick; the events of a tick are stamped as it starts.
    await sleep(20);
  }
  await lagCheck;
  releaseAdmin();
  progress.update(total, rate(total, Date.now() - start));
  progress.stop();
  return { events: total, seconds: (Date.now() - start) / 1000, maxLag };
}

/**
 * Waits until the consumer group has `count` members: the processes started together, and the
 * drain's rate is taken from the first commit seen after this (what came before is left out).
 */
async function waitForMembers(
  kafka: KafkaClient,
  groupId: string,
  count: number,
  progress: BenchProgress,
): Promise<void> {
  progress.note(`waiting for ${count} pipeline processes to join group ${groupId}…`);
  const deadline = Date.now() + 120_000;
  await kafka.withAdmin(async (admin) => {
    for (;;) {
      const members = await admin.groupMemberCount(groupId);
      if (members >= count) return;
      if (Date.now() > deadline)
        throw new Error(
          `only ${members} of ${count} pipeline processes joined group ${groupId} in 120 s: see their logs in the --out directory`,
        );
      await sleep(250);
    }
  });
}

/** Commands per second on the main Redis while the bench is idle: other users of the server. */
async function quietRate(
  redis: RedisClient,
  seconds: number,
  progress: BenchProgress,
): Promise<number> {
  if (seconds <= 0) return 0;
  progress.note(`measuring other users' Redis commands for ${seconds}s (subtracted later)…`);
  const before = await commandStats(redis);
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const after = await commandStats(redis);
  // The INFO calls themselves are ours; leave them out.
  const delta = commandDelta(before, after);
  return Math.max(0, delta.total - (delta.byCommand.info ?? 0)) / ((Date.now() - t0) / 1000);
}

function redisCommands(
  before: Awaited<ReturnType<typeof commandStats>>,
  after: Awaited<ReturnType<typeof commandStats>>,
  backgroundPerSecond: number,
  seconds: number,
  events: number,
): RedisCommands {
  const delta = commandDelta(before, after);
  const background = Math.round(backgroundPerSecond * seconds);
  const ours = Math.max(0, delta.total - background);
  const top = Object.fromEntries(
    Object.entries(delta.byCommand)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12),
  );
  return {
    total: delta.total,
    background,
    perEvent: ours / events,
    evalshaPerEvent: (delta.byCommand.evalsha ?? 0) / events,
    perSecond: ours / seconds,
    top,
  };
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}

function fileSize(file: string): number {
  return statSync(file).size;
}

/** Records per step and topic (mean), and the mean time from produce to commit of a step. */
export interface StepStats {
  recordsPerStep: number;
  meanMs: number;
  count: number;
  /** Mean time a window-closing punctuation held its partition's lane. */
  windowCloseLaneMs: number;
  /** Mean time a queued step waited for its lane, and the share that waited over 100 ms. */
  laneWaitMs: number;
  laneWaitOver100ms: number;
  /** Mean time from a group window's end to its close, and the share closed over 100 ms late. */
  windowCloseDelayMs: number;
  windowCloseDelayOver100ms: number;
}

/** Step figures between two snapshots of the pipeline's metrics (from its start without `before`). */
function stepStats(before: MetricsSnapshot | undefined, after: MetricsSnapshot): StepStats {
  const d = (name: string, labels: Record<string, string> = {}) =>
    after.total(name, labels) - (before?.total(name, labels) ?? 0);
  /** A histogram's mean in ms between the snapshots. */
  const meanMs = (histogram: string, labels: Record<string, string> = {}) =>
    (1000 * d(`${histogram}_sum`, labels)) / d(`${histogram}_count`, labels);
  /** The share of a histogram's observations over 100 ms. */
  const over100ms = (histogram: string) =>
    1 - d(`${histogram}_bucket`, { le: '0.1' }) / d(`${histogram}_count`);
  return {
    count: d('ticks_batch_records_count'),
    recordsPerStep: d('ticks_batch_records_sum') / d('ticks_batch_records_count'),
    meanMs: meanMs('ticks_batch_duration_seconds'),
    windowCloseLaneMs: meanMs('ticks_punctuation_duration_seconds', {
      punctuator: 'group-windows',
    }),
    laneWaitMs: meanMs('ticks_step_lane_wait_seconds'),
    laneWaitOver100ms: over100ms('ticks_step_lane_wait_seconds'),
    windowCloseDelayMs: meanMs('ticks_window_close_delay_seconds'),
    windowCloseDelayOver100ms: over100ms('ticks_window_close_delay_seconds'),
  };
}

/** Commit rate from the first sample at or past `from` committed records to the last sample. */
function rateAfter(samples: DrainSample[], from: number): number {
  const start = samples.find((x) => x.committed >= from);
  const end = samples[samples.length - 1];
  if (!start || !end || end.t <= start.t) return NaN;
  return ((end.committed - start.committed) * 1000) / (end.t - start.t);
}
