import type { CommitPosition } from '../kafka/types';
import type { StreamConsumer } from './stream-kafka';

interface Waiting {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Commits the positions of many partition tasks in one request: positions handed over while a
 * commit is in flight, or within `intervalMs` of the last one, go together in the next (the
 * highest offset per topic-partition wins). A position must be handed over only once the
 * outputs of everything before it were acknowledged.
 */
export class OffsetCommitter {
  private queued = new Map<string, CommitPosition>();
  private waiting: Waiting[] = [];
  private committing: Promise<void> | undefined;
  private lastCommitAt = 0;

  constructor(
    private readonly consumer: Pick<StreamConsumer, 'commit'>,
    private readonly intervalMs = 0,
  ) {}

  /** Resolves once everything handed over so far was committed (or failed). */
  async idle(): Promise<void> {
    while (this.committing) await this.committing;
  }

  commit(positions: CommitPosition[]): Promise<void> {
    if (positions.length === 0) return Promise.resolve();
    for (const p of positions) {
      const key = `${p.topic}\u0000${p.partition}`;
      const known = this.queued.get(key);
      if (!known || BigInt(known.nextOffset) < BigInt(p.nextOffset)) this.queued.set(key, p);
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.kick();
    });
  }

  /**
   * Drops the positions of these partitions that are still waiting to be sent: the partitions
   * went to another member, which commits them from now on. Their callers' promises settle with
   * the next request as usual.
   */
  forget(partitions: ReadonlySet<number>): void {
    for (const [key, p] of this.queued) if (partitions.has(p.partition)) this.queued.delete(key);
  }

  private kick(): void {
    if (this.committing) return;
    this.committing = this.drain().finally(() => {
      this.committing = undefined;
      if (this.waiting.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const wait = this.lastCommitAt + this.intervalMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      this.lastCommitAt = Date.now();
      const positions = [...this.queued.values()];
      const waiting = this.waiting;
      this.queued = new Map();
      this.waiting = [];
      try {
        if (positions.length > 0) await this.consumer.commit(positions);
        for (const w of waiting) w.resolve();
      } catch (err) {
        for (const w of waiting) w.reject(err);
      }
    }
  }
}
