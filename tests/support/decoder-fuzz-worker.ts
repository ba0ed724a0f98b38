import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { AvroCodec } from '../../schemas/avro-codec';
import { CodecError } from '../../schemas/codec-errors';
import { MemoryRegistry } from './memory-registry';

/**
 * The codec's decode() in a worker thread, so that a record that makes it loop is told apart
 * from a slow one and stopped: a loop in the test's own thread would freeze the whole test run,
 * where no timeout can fire.
 */

/** What decoding one record gave. */
export interface DecodeOutcome {
  /** `rejected`: a CodecError, typed, with its dead-letter reason; `untyped`: anything else. */
  outcome: 'decoded' | 'rejected' | 'untyped';
  reason?: string;
  message?: string;
}

interface Job {
  /** Writer schemas, given the ids 1, 2, … in this order (MemoryRegistry.add). */
  schemas: string[];
  /** Framed records. */
  cases: Uint8Array[];
}

/**
 * Decodes each case with a codec over a registry holding `schemas`, one after another, and
 * resolves their outcomes in order. Rejects — naming the case — when one takes longer than
 * `limitMs` to decode or fail; the worker is then terminated.
 */
export function decodeEach(
  job: Job,
  limitMs: number,
  label: (index: number) => string,
): Promise<DecodeOutcome[]> {
  const bootstrap = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();
require(${JSON.stringify(__filename)});`;
  const worker = new Worker(bootstrap, { eval: true, workerData: job });
  const outcomes: DecodeOutcome[] = [];
  return new Promise<DecodeOutcome[]>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      void worker.terminate();
      if (error) reject(error);
      else resolve(outcomes);
    };
    const arm = (ms: number, what: () => string) => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new Error(what())), ms);
    };
    const limit = () => {
      const i = outcomes.length;
      arm(limitMs, () => {
        const hex = Buffer.from(job.cases[i]!).toString('hex');
        return `case ${i} (${label(i)}) neither decoded nor failed within ${limitMs} ms: the decoder hangs on ${hex}`;
      });
    };
    arm(60_000, () => 'the decoder worker did not start within 60 s');
    worker.on('message', (message: 'ready' | DecodeOutcome) => {
      if (message !== 'ready') outcomes.push(message);
      if (outcomes.length === job.cases.length) finish();
      else limit();
    });
    worker.on('error', (err) => finish(err));
    worker.on('exit', (code) => {
      if (outcomes.length < job.cases.length)
        finish(new Error(`the decoder worker exited (${code}) after ${outcomes.length} cases`));
    });
  });
}

async function work(): Promise<void> {
  const { schemas, cases } = workerData as Job;
  const registry = new MemoryRegistry();
  for (const schema of schemas) registry.add(schema);
  const codec = new AvroCodec({ registry });
  parentPort!.postMessage('ready');
  for (const bytes of cases) {
    let result: DecodeOutcome;
    try {
      await codec.decode(Buffer.from(bytes));
      result = { outcome: 'decoded' };
    } catch (err) {
      const error = err as Error;
      result =
        err instanceof CodecError
          ? { outcome: 'rejected', reason: err.reason, message: error.message }
          : { outcome: 'untyped', message: `${error.name}: ${error.message}` };
    }
    parentPort!.postMessage(result);
  }
}

if (!isMainThread && (workerData as Partial<Job> | undefined)?.cases) void work();
