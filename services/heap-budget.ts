/**
 * The V8 heap a pipeline process needs for what it is configured to keep in memory, so that a
 * heap limit (`--max-old-space-size`, set by `npm run pipeline`; see README) can bound its RSS
 * without starving it. Without a limit V8 lets the old space grow to about twice the live heap
 * before a major GC (a live ~550 MiB reached 1.2 GiB in a drain): the limit is what bounds RSS,
 * and the caches and buffers must fit under it with room for the garbage between collections.
 */
export interface HeapDemand {
  /** TICKS_STATE_CACHE_BYTES: the conversation states' estimated bytes. */
  stateCacheBytes: number;
  /** TICKS_DEDUPE_CACHE_ENTRIES. */
  dedupeCacheEntries: number;
  /** Partitions this process may own (all of them, when it runs alone). */
  partitions: number;
  /** Co-partitioned input topics (a task queue each, per partition). */
  inputTopics: number;
  /** A task queue's buffer (maxBufferedRecords), plus the fetch that overshoots it. */
  recordsPerQueue: number;
}

/** Heap per byte of the states' estimate: 0.94 (groups) to 1.23 (direct chats) measured. */
const STATE_HEAP_PER_ESTIMATED_BYTE = 1.25;
/** Heap per dedupe mark: 234 bytes measured (a key of ~60 characters, its entry). */
const DEDUPE_MARK_BYTES = 250;
/** Heap and fetch buffer per record waiting in a task (kafkajs' message, ours, the bytes). */
const BUFFERED_RECORD_BYTES = 1024;
/** Code, clients, the settings table and one step's working set. */
const BASE_BYTES = 128 * 2 ** 20;
/** Old space over live heap that keeps major GCs infrequent: below it V8 collects nearly non-stop. */
export const GC_HEADROOM = 1.5;

/** Live heap the configuration may hold, in bytes. */
export function liveHeapBytes(d: HeapDemand): number {
  return (
    BASE_BYTES +
    d.stateCacheBytes * STATE_HEAP_PER_ESTIMATED_BYTE +
    d.dedupeCacheEntries * DEDUPE_MARK_BYTES +
    d.partitions * d.inputTopics * d.recordsPerQueue * BUFFERED_RECORD_BYTES
  );
}

/**
 * A warning when V8's heap limit (v8.getHeapStatistics().heap_size_limit: the old space's
 * limit plus the young generation, 3 × the semi-space) leaves less than GC_HEADROOM over that
 * live heap.
 */
export function heapBudgetWarning(heapLimitBytes: number, d: HeapDemand): string | undefined {
  const needed = liveHeapBytes(d) * GC_HEADROOM;
  if (heapLimitBytes >= needed) return undefined;
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  return (
    `the V8 heap limit (${mib(heapLimitBytes)}) is below the ${mib(needed)} that the caches ` +
    `and buffers may need (live ${mib(liveHeapBytes(d))} × ${GC_HEADROOM} for garbage): raise ` +
    `node's --max-old-space-size, or lower TICKS_STATE_CACHE_BYTES or TICKS_DEDUPE_CACHE_ENTRIES`
  );
}
