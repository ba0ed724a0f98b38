/** The end of a log file, shown when a server fails to come up. */
import * as fs from 'node:fs';

/** The last n non-empty-trailing lines of text (a trailing newline does not count as a line). */
export function lastLines(text: string, n: number): string[] {
  if (n <= 0 || text === '') return [];
  const lines = text.replace(/\r?\n$/, '').split(/\r?\n/);
  return lines.slice(-n);
}

/** Every start writes a line beginning with this to the server's log (see managed-server.ts). */
export const RUN_MARKER = '===== ';

/** Drops the lines before the last run marker, so a tail shows only the latest start. */
export function sinceLastRun(lines: string[], marker = RUN_MARKER): string[] {
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i]?.startsWith(marker)) return lines.slice(i);
  }
  return lines;
}

/** Reads only the file's end (logs can be large); [] when the file does not exist. */
export function tailFile(file: string, n = 30, maxBytes = 64 * 1024): string[] {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, maxBytes);
    const buf = Buffer.alloc(length);
    fs.readSync(fd, buf, 0, length, size - length);
    const lines = lastLines(buf.toString('utf8'), n + 1);
    // When we started mid-file the first line is probably cut: drop it unless it is all we have.
    return length < size && lines.length > n ? lines.slice(1) : lines.slice(-n);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
