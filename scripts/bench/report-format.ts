/** One figure of a bench table. */
export interface Row {
  section: string;
  figure: string;
  value: string;
  target?: string;
}

export const int = (n: number) =>
  Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—';
export const num = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
export const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : '—');
export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
export const ms = (n: number) => (Number.isFinite(n) ? `${Math.round(n)}` : '—');

/** Rows as a terminal table, a heading per section. */
export function formatRows(list: Row[]): string {
  const w1 = Math.max(...list.map((x) => x.figure.length));
  const lines: string[] = [];
  let section = '';
  for (const row of list) {
    if (row.section !== section) {
      section = row.section;
      lines.push('', section.toUpperCase());
    }
    lines.push(
      `  ${row.figure.padEnd(w1)}  ${row.value}${row.target ? `   [target ${row.target}]` : ''}`,
    );
  }
  return lines.join('\n');
}

/** Rows as a Markdown table (for BENCHMARKS.md). */
export function markdownRows(list: Row[]): string {
  const lines = ['| | Figure | Value | Target |', '|---|---|---|---|'];
  for (const row of list)
    lines.push(
      `| ${row.section} | ${row.figure} | ${row.value.replace(/\|/g, '\\|')} | ${row.target ?? ''} |`,
    );
  return lines.join('\n');
}
