import type { Percentiles } from './latency-probe';
import type { BenchResult, CpuShare, GroupPushes, StepStats } from './bench-run';
import { formatRows, int, markdownRows, mib, ms, num, pct, type Row } from './report-format';
import { servingRows } from './serving-report';
import { memoryByKind } from './memory-report';
import { persisterRows } from './persister-report';
import { kafkaRows } from './kafka-report';

export type { Row } from './report-format';

function latency(p: Percentiles): string {
  return p.count === 0
    ? 'none produced'
    : `${ms(p.p50)} / ${ms(p.p95)} / ${ms(p.p99)} / ${ms(p.max)} ms (n=${int(p.count)})`;
}

function pushes(p: GroupPushes): string {
  return `${int(p.sent)} pushes instead of ${int(p.unwindowed)}, ${int(p.windows)} windows`;
}

function steps(s: StepStats): string {
  return `${num(s.recordsPerStep, 1)} / ${num(s.meanMs, 1)} ms (${int(s.count)} steps)`;
}

function lanes(s: StepStats): string {
  return `${num(s.windowCloseLaneMs, 1)} ms / ${num(s.laneWaitMs, 1)} ms, ${pct(s.laneWaitOver100ms)} over 100 ms`;
}

function closeDelay(s: StepStats): string {
  return `${num(s.windowCloseDelayMs, 1)} ms, ${pct(s.windowCloseDelayOver100ms)} over 100 ms`;
}

function cpu(c: CpuShare): string {
  const parts = Object.entries(c.cores).map(([name, cores]) => `${name} ${num(cores)}`);
  return `${parts.join(', ')}, other ${num(c.otherCores)} (machine busy ${num(c.machineBusyCores)})`;
}

/** The pipeline processes' main threads: on a CPU / waiting for one, in cores. */
function mainThreads(c: CpuShare): string {
  const ticks = Object.entries(c.mainThreads ?? {}).filter(([name]) => name.startsWith('ticks'));
  if (ticks.length === 0) return 'not measured (no /proc/<pid>/schedstat)';
  return ticks.map(([name, t]) => `${name} ${num(t.running)} / ${num(t.waiting)}`).join(', ');
}

/** Every figure of a run, in the order of the table. */
export function rows(r: BenchResult): Row[] {
  const t = r.ticks;
  const l = r.latency;
  const q = r.ratios;
  const out: Row[] = [
    {
      section: 'workload',
      figure: 'input events (setup + traffic + latency phase)',
      value: `${int(r.workload.inputEvents)} (${int(r.workload.setupEvents)} + ${int(r.workload.trafficEvents)} + ${int(l.events)}); ${int(r.workload.conversations)} conversations, ${r.config.partitions} partitions`,
    },
    {
      section: 'workload',
      figure: 'drain mix: messages / delivered / reads',
      value: `${int(r.workload.messages)} / ${int(r.workload.delivered)} / ${int(r.workload.reads)}`,
    },
    {
      section: 'load',
      figure: 'producing the backlog',
      value: `${int(r.load.eventsPerSecond)} events/s`,
    },
    {
      section: 'throughput',
      figure: 'baseline: kafkajs, no processing',
      value: `${int(r.baseline.eventsPerSecond)} events/s (${num(r.baseline.seconds, 1)} s)`,
    },
    ...(r.floor ?? []).map((f) => ({
      section: 'throughput',
      figure: `floor (no ticks logic): ${f.label}`,
      value: `${int(f.eventsPerSecond)} events/s (${num(f.seconds, 1)} s; done per event: ${num(f.done.outputs / f.done.events)} outputs, ${num(f.done.redisCommandsApplied / f.done.events)} Redis commands; ${cpu(f.cpu)})`,
    })),
    {
      section: 'throughput',
      figure: 'ticks: processors draining from the beginning',
      value: `${int(t.eventsPerSecond)} events/s (${num(t.seconds, 1)} s, ${r.config.processes} process${r.config.processes === 1 ? '' : 'es'})`,
      target: '≥ 100,000',
    },
    {
      section: 'throughput',
      figure: '  of which the chat traffic alone (after the setup events)',
      value: `${int(t.trafficEventsPerSecond)} events/s`,
    },
    {
      section: 'throughput',
      figure: 'ticks ÷ baseline',
      value: num(t.ratioToBaseline),
      target: '≥ 0.6',
    },
    { section: 'throughput', figure: 'CPU during the drain (cores)', value: cpu(t.cpu) },
    {
      section: 'throughput',
      figure: 'main thread of ticks during the drain: on a CPU / runnable, waiting for one (cores)',
      value: mainThreads(t.cpu),
    },
    {
      section: 'throughput',
      figure: 'input events applied by each pipeline process',
      value: t.eventsPerProcess.map(int).join(' / '),
    },
    {
      section: 'throughput',
      figure: 'held receipts / dead letters in the drain',
      value: `${int(t.heldReceipts)} / ${int(t.deadLetters)}`,
    },
    {
      section: 'throughput',
      figure: 'steps: records per step and topic / mean produce-to-commit time',
      value: steps(t.steps),
    },
    ...(r.floorLatency
      ? [
          {
            section: 'latency',
            figure:
              'floor (no ticks logic) at the same load: event → output produced p50 / p95 / p99 / max',
            value: `${latency(r.floorLatency.produced)}; ${cpu(r.floorLatency.cpu)}`,
          },
        ]
      : []),
    {
      section: 'latency',
      figure: `offered load`,
      value: `${int(l.offeredRate)} events/s for ${num(l.seconds, 1)} s (achieved ${int(l.achievedRate)}/s, max lag ${int(l.maxLag)})`,
    },
    {
      section: 'latency',
      figure: 'direct update p50 / p95 / p99 / max',
      value: latency(l.direct),
      target: 'p99 ≤ 50 ms',
    },
    {
      section: 'latency',
      figure: 'direct update p99 by when produced (ms after a window end: p99 ms)',
      value: l.directByWindowPhase
        .map((b) => `${b.phaseMs}+: ${ms(b.p99)} (${int(b.count)})`)
        .join(', '),
    },
    {
      section: 'latency',
      figure: 'group summary p50 / p95 / p99 / max',
      value: latency(l.groupSummary),
      target: 'p99 ≤ 2,100 ms',
    },
    {
      section: 'latency',
      figure: 'unread sync p50 / p95 / p99 / max',
      value: latency(l.unreadSync),
    },
    {
      section: 'latency',
      figure: 'as received downstream: direct p99 / group p99',
      value: `${ms(l.received.direct.p99)} / ${ms(l.received.groupSummary.p99)} ms`,
    },
    { section: 'latency', figure: 'CPU at this load (cores)', value: cpu(l.cpu) },
    {
      section: 'latency',
      figure: 'main thread of ticks at this load: on a CPU / runnable, waiting for one (cores)',
      value: mainThreads(l.cpu),
    },
    {
      section: 'latency',
      figure: "lanes: a window close holds its partition's lane / a step waits for its lane (mean)",
      value: lanes(l.steps),
    },
    {
      section: 'latency',
      figure: 'group windows: from a window’s end to its close (mean)',
      value: closeDelay(l.steps),
    },
    {
      section: 'latency',
      figure: 'steps: records per step and topic / mean produce-to-commit time',
      value: steps(l.steps),
    },
    {
      section: 'ratios',
      figure: `push reduction (1 − group pushes ÷ one per receipt and sender), active windows (≥ 20 receipts), real time`,
      value: `${pct(q.pushReduction.activeWindows)} (${pushes(q.groupPushes.activeWindows)})`,
      target: '≥ 95 %',
    },
    {
      section: 'ratios',
      figure: '  all groups, real time',
      value: `${pct(q.pushReduction.latency)} (${pushes(q.groupPushes.latency)}; ${num(q.receiptsPerWindow.latency, 1)} receipts/window)`,
      target: '≥ 80 %',
    },
    {
      section: 'ratios',
      figure: '  all groups, drain (backlog: windows fill faster)',
      value: `${pct(q.pushReduction.drain)} (${pushes(q.groupPushes.drain)}; ${num(q.receiptsPerWindow.drain, 1)} receipts/window)`,
    },
    {
      section: 'ratios',
      figure: 'badge dedupe hit rate (marks found in memory / read from aux Redis / misses)',
      value: `${pct(q.dedupe.hitRate)} (${num(q.dedupe.memoryHits, 0)} / ${num(q.dedupe.auxHits, 0)} / ${num(q.dedupe.misses, 0)})`,
    },
    {
      section: 'ratios',
      figure: '  auxiliary-Redis hit rate (of the marks memory did not know)',
      value: pct(q.dedupe.auxHitRate),
    },
    {
      section: 'ratios',
      figure: 'main-Redis badge writes per real badge change (source added or removed)',
      value: `${num(q.badgeWritesPerChange.run, 3)} (real time: ${num(q.badgeWritesPerChange.latency, 3)}; ${int(q.badgeWritesPerChange.adds)} added, ${int(q.badgeWritesPerChange.removes)} removed)`,
      target: '≤ 1.05',
    },
    {
      section: 'ratios',
      figure: 'main-Redis badge writes per message event',
      value: `${num(q.mainRedisBadgeWritesPerMessage, 3)} (real time: ${num(q.mainRedisBadgeWritesPerMessageLatency, 3)})`,
      target: '≤ 0.2',
    },
    {
      section: 'ratios',
      figure: '  per direct-chat message (bursts of 1–8 to one recipient) / per group message',
      value: `${num(q.mainRedisBadgeWritesPerMessageByKind.direct, 3)} / ${num(q.mainRedisBadgeWritesPerMessageByKind.group, 3)}`,
    },
    {
      section: 'ratios',
      figure: '  of which sources really added to a badge, per message event',
      value: num(q.badgeAddsPerMessage, 3),
    },
    {
      section: 'ratios',
      figure: 'main-Redis commands per input event (drain; real time)',
      value: `${num(t.redisCommands.perEvent)}; ${num(l.redisCommands.perEvent)} (EVALSHA ${num(t.redisCommands.evalshaPerEvent, 3)}; ${num(l.redisCommands.evalshaPerEvent, 3)})`,
    },
    {
      section: 'ratios',
      figure: 'messages covered per read-up-to',
      value: num(q.messagesCoveredPerRead),
    },
    {
      section: 'memory',
      figure: 'main Redis bytes per message of state',
      value: `${int(r.memory.redisBytesPerMessage)} B (${mib(r.memory.redisMain.bytes)} over ${int(r.memory.redisMain.keys)} keys, ${int(r.memory.messagesInState)} messages)`,
    },
    ...memoryByKind(r.memory.redisMain, r.memory.messagesInState).map((k) => ({
      section: 'memory',
      ...k,
    })),
    {
      section: 'memory',
      figure: 'auxiliary Redis (dedupe marks)',
      value: `${mib(r.memory.redisAux.bytes)} over ${int(r.memory.redisAux.keys)} keys`,
    },
    { section: 'memory', figure: 'ticks process peak RSS', value: mib(r.memory.nodePeakRssBytes) },
  ];
  if (r.persister)
    for (const row of persisterRows(r.persister)) out.push({ section: 'persister', ...row });
  if (r.kafka) out.push(...kafkaRows(r.kafka));
  if (r.ceiling) {
    const c = r.ceiling.opsPerSecond;
    out.push({
      section: 'ceiling',
      figure: `redis-benchmark -P ${r.ceiling.pipeline} (ops/s)`,
      value: Object.entries(c)
        .map(([k, v]) => `${k} ${int(v)}`)
        .join(', '),
    });
  }
  for (const [name, c] of Object.entries(r.scripts ?? {}))
    out.push({
      section: 'ceiling',
      figure: `script ${name}: Redis µs per call / in its commands`,
      value: `${c.microsPerCall.toFixed(1)} / ${c.microsInCommands.toFixed(1)} (no AOF, one event per call)`,
    });
  out.push({
    section: 'ceiling',
    figure: 'main Redis during the drain',
    value: `${int(r.redisShare.drainCommandsPerSecond)} commands/s, ${num(r.redisShare.redisMainCores)} cores`,
  });
  if (r.serving) out.push(...servingRows(r.serving));
  return out;
}

/** The table for a terminal. */
export function formatTable(r: BenchResult): string {
  const lines = [formatRows(rows(r))];
  if (r.profile) {
    lines.push('', `PROFILE (${r.profile.file}) — self time`);
    for (const a of r.profile.byArea) lines.push(`  ${pct(a.selfShare).padStart(7)}  ${a.frame}`);
    lines.push('  top frames:');
    for (const f of r.profile.top) lines.push(`  ${pct(f.selfShare).padStart(7)}  ${f.frame}`);
  }
  return lines.join('\n');
}

/** The same table in Markdown (for BENCHMARKS.md). */
export function markdownTable(r: BenchResult): string {
  return markdownRows(rows(r));
}
