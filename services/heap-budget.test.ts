import { GC_HEADROOM, heapBudgetWarning, liveHeapBytes, type HeapDemand } from './heap-budget';

const MiB = 2 ** 20;
/** The defaults: 128 MiB of states, 500,000 marks, 6 partitions of 2 topics, 2,000 + a fetch. */
const DEFAULTS: HeapDemand = {
  stateCacheBytes: 128 * MiB,
  dedupeCacheEntries: 500_000,
  partitions: 6,
  inputTopics: 2,
  recordsPerQueue: 3_500,
};

describe('heap budget', () => {
  // npm run pipeline: --max-old-space-size=640 --max-semi-space-size=64, a V8 heap limit of
  // 640 + 3 × 64 MiB (the young generation counts in it).
  const PIPELINE_LIMIT = 832 * MiB;

  it('fits the default configuration in the heap limit npm run pipeline sets', () => {
    expect(heapBudgetWarning(PIPELINE_LIMIT, DEFAULTS)).toBeUndefined();
    expect(liveHeapBytes(DEFAULTS) * GC_HEADROOM).toBeLessThan(PIPELINE_LIMIT);
  });

  it('warns, naming what to change, when the state cache outgrows the limit', () => {
    const warning = heapBudgetWarning(PIPELINE_LIMIT, { ...DEFAULTS, stateCacheBytes: 512 * MiB });
    expect(warning).toMatch(/--max-old-space-size/);
    expect(warning).toMatch(/TICKS_STATE_CACHE_BYTES/);
  });

  it('counts the buffered records of every partition and topic', () => {
    const more = { ...DEFAULTS, partitions: 60 };
    expect(liveHeapBytes(more) - liveHeapBytes(DEFAULTS)).toBe(54 * 2 * 3_500 * 1024);
  });
});
