import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../../runtime/process-metrics';

/**
 * The persister's Prometheus metrics. In the pipeline's process they join its registry (one
 * /metrics); alone, they have their own with the process metrics.
 */
export class PersisterMetrics {
  readonly registry: Registry;

  readonly rowsWritten: Counter<'table'>;
  readonly batches: Counter<string>;
  readonly changes: Counter<'type'>;
  readonly retries: Counter<'table'>;
  readonly writeDuration: Histogram<'phase'>;
  readonly lag: Gauge<'partition'>;
  readonly watermarksCoalesced: Counter<string>;
  readonly watermarksPending: Gauge<string>;
  readonly commits: Counter<string>;
  readonly deadLetters: Counter<string>;

  constructor(options: { registry?: Registry } = {}) {
    this.registry = options.registry ?? new Registry();
    if (!options.registry) collectProcessMetrics(this.registry);
    const registers = [this.registry];
    this.rowsWritten = new Counter({
      name: 'ticks_persister_rows_written_total',
      help: 'Rows written to Cassandra by table',
      labelNames: ['table'] as const,
      registers,
    });
    this.batches = new Counter({
      name: 'ticks_persister_batches_total',
      help: 'Changelog batches written to Cassandra',
      registers,
    });
    this.changes = new Counter({
      name: 'ticks_persister_changes_total',
      help: 'Changelog changes consumed (a state_changes record holds a step of them), by change type',
      labelNames: ['type'] as const,
      registers,
    });
    this.retries = new Counter({
      name: 'ticks_persister_retries_total',
      help: 'Cassandra writes retried after a failure, by table',
      labelNames: ['table'] as const,
      registers,
    });
    this.writeDuration = new Histogram({
      name: 'ticks_persister_write_duration_seconds',
      help: "Time to write a batch's rows (phase=rows) or a watermark flush (phase=watermarks)",
      labelNames: ['phase'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.lag = new Gauge({
      name: 'ticks_persister_lag_records',
      help: 'state_changes records not yet written, per partition (high watermark minus next offset)',
      labelNames: ['partition'] as const,
      registers,
    });
    this.watermarksCoalesced = new Counter({
      name: 'ticks_persister_watermarks_coalesced_total',
      help: 'Watermark changes absorbed by the coalescer (compare with rows_written{table="watermarks"})',
      registers,
    });
    this.watermarksPending = new Gauge({
      name: 'ticks_persister_watermarks_pending',
      help: 'Watermark keys waiting for the next flush',
      registers,
    });
    this.commits = new Counter({
      name: 'ticks_persister_commits_total',
      help: 'Offset commits after a flush (everything up to them is in Cassandra)',
      registers,
    });
    this.deadLetters = new Counter({
      name: 'ticks_persister_dead_letters_total',
      help: 'Changelog records that could not be decoded, sent to the dead-letter topic',
      registers,
    });
  }
}
