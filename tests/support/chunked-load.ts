import { KafkaSendTimeoutError } from '../../runtime/kafka/errors';
import { Workload, type WorkloadOptions } from '../../scripts/traffic/workload';
import { durableModel } from './durable-model';
import type { Harness } from './harness';
import { conversationWatermarks } from './watermarks';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends of one chunk before its failure fails the load (each up to the send deadline). */
const SEND_ATTEMPTS = 3;

/**
 * A seeded workload published in chunks of the same size in every run, so that every run has
 * the same events (their times aside) however its publishing is paced: a clean run's end is
 * then the end of any run of the same load.
 */
export class ChunkedLoad {
  readonly workload: Workload;
  private sent = 0;

  constructor(
    private readonly h: Harness,
    options: WorkloadOptions,
    private readonly chunk: number,
    readonly chunks: number,
  ) {
    this.workload = new Workload(h.publish, options);
    this.workload.setUp();
  }

  /** Chunks published so far. */
  get published(): number {
    return this.sent;
  }

  get done(): boolean {
    return this.sent >= this.chunks;
  }

  /**
   * Publishes the next `chunks` chunks (each flushed: the pipeline sees them at once). A chunk
   * Kafka did not take in time (a broker killed, its partitions moving) is sent again, as an
   * upstream producer retries, up to `SEND_ATTEMPTS` times: its records may then arrive twice,
   * which the pipeline must take (at-least-once input).
   */
  async publish(chunks = 1): Promise<void> {
    for (let i = 0; i < chunks && !this.done; i++, this.sent++) {
      this.workload.step(this.chunk);
      for (let attempt = 1; ; attempt++) {
        try {
          await this.h.publish.flush({ keepOnFailure: true });
          break;
        } catch (err) {
          if (!(err instanceof KafkaSendTimeoutError) || attempt >= SEND_ATTEMPTS) throw err;
        }
      }
    }
  }

  /** Publishes the rest (at most `chunks` chunks), a chunk every `everyMs`. */
  async rest(everyMs = 0, chunks = this.chunks): Promise<void> {
    for (let i = 0; i < chunks && !this.done; i++) {
      await this.publish();
      if (everyMs > 0) await sleep(everyMs);
    }
  }
}

/** The partitions (of `partitions`) whose lease the process `pid` holds now (its owner id holds its pid). */
export async function leasesOf(h: Harness, pid: number, partitions: number): Promise<number[]> {
  const held: number[] = [];
  for (let p = 0; p < partitions; p++) {
    const owner = await h.redis.get(h.keys.partitionLease(p));
    if (owner?.includes(`/${pid}/`)) held.push(p);
  }
  return held;
}

/**
 * Every member's [read, delivered] watermarks as the changelog leaves them (kept as the persister
 * keeps them: the highest per member) and as Redis holds them.
 */
export async function changelogAndRedis(
  h: Harness,
  conversations: Workload['conversationList'],
): Promise<{
  changelog: Record<string, [number, number]>;
  redis: Record<string, [number, number]>;
}> {
  const { watermarks } = durableModel(h.out.stateChanges);
  const changelog: Record<string, [number, number]> = {};
  const redis: Record<string, [number, number]> = {};
  for (const c of conversations) {
    const { read, delivered } = await conversationWatermarks(h.redis, h.keys, c.id);
    for (const m of c.members) {
      const w = watermarks.get(`${c.id}/${m}`);
      changelog[`${c.id}/${m}`] = [w?.read ?? 0, w?.delivered ?? 0];
      redis[`${c.id}/${m}`] = [Number(read[m] ?? 0), Number(delivered[m] ?? 0)];
    }
  }
  return { changelog, redis };
}

/**
 * The changelog ends where Redis ends: it is complete, and claims nothing Redis does not hold.
 */
export async function expectChangelogEndsAsRedis(
  h: Harness,
  conversations: Workload['conversationList'],
): Promise<void> {
  const { changelog, redis } = await changelogAndRedis(h, conversations);
  expect(changelog).toEqual(redis);
}
