import type { PersisterResult } from './persister-phase';

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const cores = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '—');
const sec = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} s` : '—');

/** The persister's rows of the table: its drain rate beside the pipeline, and its catch-up. */
export function persisterRows(p: PersisterResult): Array<{ figure: string; value: string }> {
  const tables = Object.entries(p.rowsByTable)
    .map(([table, rows]) => `${table} ${int(rows)}`)
    .join(', ');
  return [
    {
      figure: 'persister beside the drain: changes/s, Cassandra rows/s',
      value: `${int(p.duringDrain.changesPerSecond)} / ${int(p.duringDrain.rowsPerSecond)} (${sec(p.duringDrain.seconds)})`,
    },
    {
      figure: 'persister lag, changelog records not committed: max in the drain / at its end',
      value: `${int(p.duringDrain.maxLag)} / ${int(p.lagAtDrainEnd)}`,
    },
    {
      figure: 'persister catch-up after the drain (then its last flush + commit)',
      value: `${sec(p.catchUpSeconds)} (+ ${sec(p.finalFlushSeconds)})${p.timedOut ? ' — timed out' : ''}`,
    },
    {
      figure: 'persister overall: changes/s, rows/s',
      value: `${int(p.overall.changesPerSecond)} / ${int(p.overall.rowsPerSecond)} (${int(p.changes)} changes, ${int(p.rows)} rows in ${sec(p.overall.seconds)})`,
    },
    {
      figure: '  cores meanwhile: persister / Cassandra (all its users)',
      value: `${cores(p.overall.persisterCores)} / ${cores(p.overall.cassandraCores)}`,
    },
    { figure: '  rows by table', value: tables || 'none' },
    {
      figure: '  changelog records uncommitted after it stopped',
      value: int(p.uncommittedAfterStop),
    },
  ];
}
