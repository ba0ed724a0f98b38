import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { SchemaCatalog } from '../../schemas/schema-catalog';
import type { EventPublisher } from '../../runtime/event-publisher';
import { parseBackfillLine } from './backfill-line';

export interface BackfillOptions {
  file: string;
  /** Events per second at most; 0: as fast as Kafka takes them. */
  rate: number;
  /** Events per produce call. */
  batch: number;
  maxDeliveredBatch: number;
  /** Where rejected lines go; not written in a dry run. */
  rejectsFile: string;
  /** Null in a dry run: check only. */
  publisher: EventPublisher | null;
  catalog: SchemaCatalog;
  onLine?(lineNumber: number): void;
  onReject?(lineNumber: number, error: string): void;
}

export interface BackfillResult {
  lines: number;
  published: number;
  byType: Record<string, number>;
  skipped: number;
  rejected: number;
  rejectsFile: string | null;
}

/** Counts lines (for the progress bar's total) without holding the file in memory. */
export async function countLines(file: string): Promise<number> {
  let lines = 0;
  let last = 10;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (const byte of chunk) if (byte === 10) lines++;
    last = chunk[chunk.length - 1] ?? last;
  }
  return last === 10 ? lines : lines + 1;
}

/**
 * Reads a JSON-lines file and produces each valid line as an input event through the schemas
 * (Avro, the registry's ids, keyed like upstream does), at most `rate` per second, in file order.
 * Every invalid line is reported with its number and written to the rejects file with the reason
 * and the original text: nothing is dropped silently.
 */
export async function runBackfill(options: BackfillOptions): Promise<BackfillResult> {
  const result: BackfillResult = {
    lines: 0,
    published: 0,
    byType: {},
    skipped: 0,
    rejected: 0,
    rejectsFile: null,
  };
  let rejects: WriteStream | undefined;
  let queued = 0;
  const limiter = new RateLimiter(options.rate);

  const flush = async () => {
    if (queued === 0 || !options.publisher) return;
    await limiter.take(queued);
    result.published += await options.publisher.flush();
    queued = 0;
  };
  const reject = (lineNumber: number, error: string, text: string) => {
    result.rejected++;
    options.onReject?.(lineNumber, error);
    if (!options.publisher) return;
    rejects ??= createWriteStream(options.rejectsFile, { flags: 'w' });
    rejects.write(`${JSON.stringify({ line: lineNumber, error, input: text })}\n`);
  };

  const lines = createInterface({ input: createReadStream(options.file), crlfDelay: Infinity });
  for await (const text of lines) {
    const lineNumber = ++result.lines;
    const parsed = parseBackfillLine(text, options.maxDeliveredBatch);
    if (parsed.kind === 'skip') result.skipped++;
    else if (parsed.kind === 'reject') reject(lineNumber, parsed.error, text);
    else {
      const { role, key, value } = parsed.event;
      const paths: string[] = [];
      const valid = options.catalog.type(role).isValid(value, {
        errorHook: (path) => paths.push(path.join('.')),
      });
      if (!valid)
        reject(lineNumber, `does not fit the ${role} schema at ${paths.join(', ')}`, text);
      else {
        result.byType[parsed.type] = (result.byType[parsed.type] ?? 0) + 1;
        if (options.publisher) {
          options.publisher.encoded(role, key, value);
          if (++queued >= Math.min(options.batch, options.rate > 0 ? options.rate : options.batch))
            await flush();
        } else result.published++;
      }
    }
    options.onLine?.(lineNumber);
  }
  await flush();
  if (rejects) {
    const stream = rejects;
    await new Promise<void>((resolve, reject) =>
      stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
    result.rejectsFile = options.rejectsFile;
  } else if (options.publisher) {
    // No rejects this time: a file left by an earlier run would mislead.
    await rm(options.rejectsFile, { force: true });
  }
  return result;
}

/** A token bucket refilled at `rate` per second (0: no limit), allowing one second of burst. */
export class RateLimiter {
  private tokens: number;
  private last = Date.now();

  constructor(private readonly rate: number) {
    this.tokens = rate;
  }

  async take(n: number): Promise<void> {
    if (this.rate <= 0) return;
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
      if (this.tokens >= n || (this.tokens >= this.rate && n > this.rate)) {
        this.tokens -= n;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.ceil(((n - this.tokens) / this.rate) * 1000)));
    }
  }
}
