import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** A pino logger whose output lines a test can read (info level by default, as production logs). */
export function capturedLogger(level = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
