import { PipelineProcess, type PipelineProcessOptions } from './pipeline-process';

/**
 * N pipeline processes in one consumer group (the run's TICKS_GROUP_ID), as a deployment scales
 * out: Kafka shares the partitions among them. Started together, so that the group forms before
 * the first batch rather than rebalancing in the middle of the drain. Their counters add up
 * (the Prometheus texts are read as one), their CPU is measured per process.
 */
export class PipelineGroup {
  readonly processes: PipelineProcess[];

  constructor(count: number, options: PipelineProcessOptions) {
    this.processes = Array.from(
      { length: count },
      (_, i) =>
        new PipelineProcess({
          ...options,
          logFile:
            options.logFile && count > 1
              ? options.logFile.replace(/\.log$/, `-${i + 1}.log`)
              : options.logFile,
        }),
    );
  }

  /** Name of each process for the CPU figures: `ticks (node)`, or `ticks (node) 1`, `2`… */
  names(): Array<[string, number]> {
    return this.processes.map((p, i) => [
      this.processes.length === 1 ? 'ticks (node)' : `ticks (node) ${i + 1}`,
      p.pid,
    ]);
  }

  async start(): Promise<void> {
    const started = await Promise.allSettled(this.processes.map((p) => p.start()));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await this.stop();
      throw failed.reason;
    }
  }

  /** Each process's /metrics. */
  metricsTexts(): Promise<string[]> {
    return Promise.all(this.processes.map((p) => p.metricsText()));
  }

  /** Every process's /metrics, one text: MetricsSnapshot.total() sums over the processes. */
  async metricsText(): Promise<string> {
    return (await this.metricsTexts()).join('\n');
  }

  /** The largest peak RSS of one process, and the current RSS of all. */
  memory(): { peakRss: number; rss: number } {
    const all = this.processes.map((p) => p.memory());
    return {
      peakRss: Math.max(0, ...all.map((m) => m.peakRss)),
      rss: all.reduce((sum, m) => sum + m.rss, 0),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop().catch(() => null)));
  }

  stderr(): string {
    return this.processes.map((p) => p.stderr()).join('\n');
  }
}
