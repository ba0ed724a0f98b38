import { int, num } from './report-format';
import { DEPLOYMENT, kafkaSplit, limits, size, type Sizing, type UnitCosts } from './scaling';

/** The rates SCALING.md sizes for: 100k, 1 M and the seeds' 1.16 M events/s. */
export const SIZING_RATES = [100_000, 1_000_000, 1_160_000];

type Table = { headers: string[]; rows: string[][] };

const gb = (bytes: number) => (Number.isFinite(bytes) ? `${num(bytes / 1e9, 1)} GB` : '—');
const tb = (bytes: number) => (Number.isFinite(bytes) ? `${num(bytes / 1e12, 1)} TB` : '—');
const mbps = (bytesPerSecond: number) =>
  Number.isFinite(bytesPerSecond) ? `${num(bytesPerSecond / 1e6, 1)} MB/s` : '—';

/** The unit costs: what one run measured, one figure per row. */
export function unitCostTable(u: UnitCosts): Table {
  const rows: string[][] = [];
  for (const r of u.runs)
    rows.push([
      `pipeline, ${r.processes} process${r.processes === 1 ? '' : 'es'} in one group: drain events/s`,
      `${int(r.eventsPerSecond)} (cores per process: ${r.coresPerProcess.map((c) => num(c)).join(', ')}; events applied per process: ${r.eventsPerProcess.map(int).join(', ')}; ${num(r.pipelineCoresPer10k)} pipeline cores per 10k events/s; machine busy ${num(r.machineBusyCores)} of its cores; load ${r.load.before} → ${r.load.after})`,
    ]);
  const c = u.coresPer10k;
  rows.push(
    ['pipeline process: cores per 10k events/s', num(c.pipeline)],
    [
      'main Redis (one shard): cores per 10k events/s',
      `${num(c.redisMain)} → ${int((10_000 / c.redisMain) * DEPLOYMENT.coresPerRedisShard)} events/s per shard at one core; ${num(u.redisMainCommandsPerEvent)} commands per event`,
    ],
    ['auxiliary Redis: cores per 10k events/s', num(c.redisAux)],
    ['Kafka broker (one, no replication): cores per 10k events/s', num(c.kafka)],
    ['persister: cores per 10k events/s', num(c.persister)],
    ['Cassandra (one node): cores per 10k events/s', num(c.cassandra)],
  );
  if (u.persister)
    rows.push(
      [
        'persister beside the drain: Cassandra rows/s (one node)',
        `${int(u.persister.rowsPerSecond)} (${num(u.persister.rowsPerEvent)} rows per event)`,
      ],
      [
        'Cassandra rows/s per core of its node',
        `${int(10_000 / u.persister.cassandraCoresPer10kRows)} (${num(u.persister.cassandraCoresPer10kRows)} cores per 10k rows/s; persister ${num(u.persister.persisterCoresPer10kRows)})`,
      ],
    );
  rows.push(
    [
      'main Redis bytes per message (hot state), messages per event',
      `${int(u.redisMainBytesPerMessage)} B, ${num(u.messagesPerEvent, 3)}`,
    ],
    ['auxiliary Redis bytes per event (dedupe marks)', `${num(u.redisAuxBytesPerEvent, 1)} B`],
  );
  if (u.kafkaBytesPerEvent) {
    const split = kafkaSplit(u);
    rows.push([
      'Kafka bytes on disk per event (one replica): inputs / written by ticks',
      `${num(split.input, 1)} / ${num(split.output, 1)} B (${Object.entries(u.kafkaBytesPerEvent)
        .map(([t, b]) => `${t} ${num(b, 1)}`)
        .join(', ')})`,
    ]);
  }
  return { headers: ['unit cost', 'measured'], rows };
}

/** The sizing for each rate, with the bound that set each count. */
export function sizingTable(u: UnitCosts, rates = SIZING_RATES): Table {
  const s: Sizing[] = rates.map((r) => size(r, u));
  const line = (label: string, f: (x: Sizing) => string) => [label, ...s.map(f)];
  return {
    headers: ['', ...rates.map((r) => `${int(r)} events/s`)],
    rows: [
      line('pipeline processes (one core each)', (x) => int(x.pipelineProcesses)),
      line('partitions per input topic', (x) => int(x.partitions)),
      line(
        'main Redis masters (by CPU / by memory)',
        (x) =>
          `${int(x.redisMainShards.shards)} (${int(x.redisMainShards.byCpu)} / ${int(x.redisMainShards.byMemory)})`,
      ),
      line('main Redis memory (24 h of messages)', (x) => gb(x.redisMainShards.bytes)),
      line(
        "  the same at the seeds' mix (1 message per 39 events): memory, masters",
        (x) => `${gb(x.redisMainSeedsMix.bytes)}, ${int(x.redisMainSeedsMix.byMemory)}`,
      ),
      line(
        'auxiliary Redis masters (by CPU / by memory)',
        (x) =>
          `${int(x.redisAuxShards.shards)} (${int(x.redisAuxShards.byCpu)} / ${int(x.redisAuxShards.byMemory)}), ${gb(x.redisAuxShards.bytes)}`,
      ),
      line(
        'Kafka brokers (by CPU / disk / network)',
        (x) =>
          `${int(x.kafka.brokers)} (${int(x.kafka.byCpu)} / ${int(x.kafka.byDisk)} / ${int(x.kafka.byNetwork)})`,
      ),
      line('Kafka written by producers (one replica)', (x) => mbps(x.kafka.inBytesPerSecond)),
      line('Kafka disk (all replicas, retention)', (x) => tb(x.kafka.diskBytes)),
      line('persister processes', (x) => int(x.persisterProcesses)),
      line(
        'Cassandra nodes (by CPU), rows/s',
        (x) =>
          `${int(x.cassandraNodes.nodes)} (${int(x.cassandraNodes.byCpu)}), ${int(x.cassandraNodes.rowsPerSecond)}`,
      ),
    ],
  };
}

/** Events/s one unit of each kind carries, the first limit first. */
export function limitTable(u: UnitCosts): Table {
  return {
    headers: ['one unit', 'full at events/s', 'bound'],
    rows: limits(u).map((l) => [l.unit, int(l.eventsPerSecond), l.bound]),
  };
}

export function markdown(t: Table): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${t.headers.map(esc).join(' | ')} |`,
    `|${t.headers.map(() => '---').join('|')}|`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export function terminal(title: string, t: Table): string {
  const widths = t.headers.map((h, i) =>
    Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)),
  );
  const fmt = (r: string[]) =>
    `  ${r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}`;
  return [title.toUpperCase(), fmt(t.headers), ...t.rows.map(fmt)].join('\n');
}

/** Everything the command prints, for a terminal. */
export function scalingText(u: UnitCosts): string {
  return [
    terminal('unit costs', unitCostTable(u)),
    terminal('limits (one unit, full)', limitTable(u)),
    terminal('sizing', sizingTable(u)),
  ].join('\n\n');
}

/** The measured part of SCALING.md (between its markers): how it was run, then the tables. */
export function scalingMarkdown(u: UnitCosts, command: string): string {
  const when = u.runs.map((r) => `${r.startedAt} (load ${r.load.before} → ${r.load.after})`);
  return [
    `Measured by \`${command}\`, runs started ${when.join('; ')}.`,
    '',
    '### Unit costs',
    '',
    markdown(unitCostTable(u)),
    '',
    '### Which limit comes first (one unit of each, at 100 %)',
    '',
    markdown(limitTable(u)),
    '',
    '### Sizing',
    '',
    markdown(sizingTable(u)),
  ].join('\n');
}

/** SCALING.md with its measured part replaced (the text between the two markers). */
export function replaceMeasured(doc: string, measured: string): string {
  const begin = '<!-- scaling:measured:begin -->';
  const end = '<!-- scaling:measured:end -->';
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < a)
    throw new Error(`the document has no ${begin} … ${end} markers: add them where the figures go`);
  return `${doc.slice(0, a + begin.length)}\n${measured}\n${doc.slice(b)}`;
}
