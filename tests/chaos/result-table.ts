import type { ScenarioResult } from './run-scenario';

/** Seconds as the table shows them: one value, or the median and the range of several. */
export function recoveryText(seconds: readonly number[]): string {
  if (seconds.length === 0) return '—';
  const sorted = [...seconds].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  if (sorted.length === 1) return `${median.toFixed(1)} s`;
  return `${median.toFixed(1)} s median (${sorted[0]!.toFixed(1)}–${sorted[sorted.length - 1]!.toFixed(1)}, ${sorted.length} faults)`;
}

/** The RELIABILITY.md table of a chaos run, with the command that produced it. */
export function resultTable(results: readonly ScenarioResult[], command: string): string {
  const rows = results.map((r) => {
    const v = r.verdict;
    return `| ${r.scenario} (seed ${r.seed}) | ${r.loadHeld} | ${r.faults} | ${v.eventsLost} | ${v.falseReads} | ${v.staleStatuses} | ${v.otherMismatches} | ${recoveryText(r.recoveries)} | ${r.persisterSeconds.toFixed(0)} s | ${r.seconds.toFixed(0)} s |`;
  });
  const checked = results.map(
    (r) =>
      `- ${r.scenario}: ${Object.entries(r.verdict.checked)
        .map(([k, n]) => `${n} ${k}`)
        .join(
          ', ',
        )}; processes restarted by the supervisor after exiting on their own: ${r.unexpectedRestarts}`,
  );
  return [
    `\`${command}\``,
    '',
    '| scenario | load held | faults injected | events lost | false reads | stale final statuses | other mismatches | recovery time | Cassandra complete after the load | run time |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Checked:',
    ...checked,
  ].join('\n');
}
