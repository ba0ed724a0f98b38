import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lastLines, RUN_MARKER, sinceLastRun, tailFile } from './log-tail';

describe('lastLines', () => {
  it('returns the last n lines, ignoring one trailing newline', () => {
    expect(lastLines('a\nb\nc\n', 2)).toEqual(['b', 'c']);
    expect(lastLines('a\r\nb', 5)).toEqual(['a', 'b']);
    expect(lastLines('', 3)).toEqual([]);
    expect(lastLines('a\n', 0)).toEqual([]);
  });
});

describe('sinceLastRun', () => {
  it('keeps only the lines of the latest start', () => {
    const lines = [`${RUN_MARKER}first`, 'old', `${RUN_MARKER}second`, 'new'];
    expect(sinceLastRun(lines)).toEqual([`${RUN_MARKER}second`, 'new']);
    expect(sinceLastRun(['no', 'marker'])).toEqual(['no', 'marker']);
  });
});

describe('tailFile', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticks-tail-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads the end of a large file without a cut first line', () => {
    const file = path.join(dir, 'big.log');
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(40)}`);
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const tail = tailFile(file, 30, 4096);
    expect(tail.length).toBeLessThanOrEqual(30);
    expect(tail[tail.length - 1]).toBe(lines[4999]);
    for (const line of tail) expect(lines).toContain(line);
  });

  it('returns [] for a missing file', () => {
    expect(tailFile(path.join(dir, 'missing.log'))).toEqual([]);
  });
});
