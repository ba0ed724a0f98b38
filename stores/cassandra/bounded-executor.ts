import { errors, type Client } from 'cassandra-driver';
import { PROFILE } from './connect';
import type { DurableTable, Statement } from './durable-statements';

/** A write that still failed after every retry (or that no retry can fix). */
export class DurableWriteError extends Error {
  override readonly name = 'DurableWriteError';
  constructor(
    message: string,
    readonly table: DurableTable,
    readonly retriable: boolean,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

export interface BoundedExecutorOptions {
  /** Statements in flight at once. */
  concurrency: number;
  /** Retries of one statement after its first failure. */
  maxRetries: number;
  /** First backoff; doubles per retry (with jitter), capped at maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs?: number;
  onRetry?(table: DurableTable, error: unknown, attempt: number): void;
  onWritten?(table: DurableTable): void;
}

/** Server answers that mean the statement itself is wrong: retrying cannot help. */
const PERMANENT_CODES = new Set([
  0x2000, // syntax error
  0x2100, // unauthorized
  0x2200, // invalid
  0x2300, // config error
  0x2400, // already exists
]);

export function isRetriable(error: unknown): boolean {
  if (error instanceof errors.ResponseError) return !PERMANENT_CODES.has(error.code);
  if (error instanceof errors.ArgumentError || error instanceof TypeError) return false;
  return true;
}

/**
 * Runs writes with at most `concurrency` in flight (token-aware routing sends each to a replica
 * of its partition), retrying each with exponential backoff. Every statement is idempotent
 * (upserts, max-wins timestamps, IF NOT EXISTS), so a retry after a timeout is safe.
 */
export class BoundedExecutor {
  constructor(
    private readonly client: Client,
    private readonly options: BoundedExecutorOptions,
  ) {}

  /** Resolves when every statement is written; rejects (after in-flight ones settle) on the first that cannot be. */
  async run(statements: readonly Statement[]): Promise<void> {
    let next = 0;
    let failure: DurableWriteError | undefined;
    const worker = async () => {
      while (failure === undefined && next < statements.length) {
        const statement = statements[next++]!;
        try {
          await this.execute(statement);
        } catch (err) {
          failure ??= err as DurableWriteError;
        }
      }
    };
    const workers = Math.min(this.options.concurrency, statements.length);
    await Promise.all(Array.from({ length: workers }, worker));
    if (failure) throw failure;
  }

  private async execute(statement: Statement): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.execute(statement.query, statement.params, {
          prepare: true,
          isIdempotent: true,
          executionProfile: PROFILE.write,
        });
        this.options.onWritten?.(statement.table);
        return;
      } catch (err) {
        const retriable = isRetriable(err);
        if (!retriable || attempt >= this.options.maxRetries)
          throw new DurableWriteError(
            `Cassandra write to ${statement.table} failed${retriable ? ` after ${attempt + 1} attempts` : ''}: ${(err as Error).message.split('\n')[0]}`,
            statement.table,
            retriable,
            { cause: err },
          );
        this.options.onRetry?.(statement.table, err, attempt + 1);
        await sleep(this.backoff(attempt));
      }
    }
  }

  private backoff(attempt: number): number {
    const cap = this.options.maxBackoffMs ?? 5000;
    const exp = Math.min(cap, this.options.backoffMs * 2 ** attempt);
    return exp / 2 + Math.random() * (exp / 2);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
export async function eachLimit<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
