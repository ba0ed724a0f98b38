/**
 * One lane per partition: the work queued on a partition's lane (its steps and punctuations) runs
 * one piece at a time, in the order queued, whether the previous piece succeeded or failed; lanes
 * of different partitions run concurrently (their conversations are disjoint).
 */
export class PartitionLanes {
  /** Each busy lane's last queued piece, settled (never rejects). */
  private readonly last = new Map<number, Promise<unknown>>();

  /** Queues `work` on the partition's lane; the promise settles as `work` does. */
  run<T>(partition: number, work: () => Promise<T>): Promise<T> {
    const previous = this.last.get(partition) ?? Promise.resolve();
    const run = previous.then(work, work);
    const settled = run.catch(() => undefined);
    this.last.set(partition, settled);
    void settled.then(() => {
      if (this.last.get(partition) === settled) this.last.delete(partition);
    });
    return run;
  }

  /** Resolves once everything queued so far, on every lane, has run. */
  async idle(): Promise<void> {
    await Promise.all(this.last.values());
  }
}
