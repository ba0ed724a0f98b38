import pino, { type Logger } from 'pino';

/** Structured JSON logs (pino) on stderr, so stdout stays free for a command's own output. */
export function createLogger(level: string, name = 'ticks'): Logger {
  return pino({ name, level }, pino.destination(2));
}
