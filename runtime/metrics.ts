import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every Prometheus metric of the pipeline, on one registry (served at /metrics). */
export class PipelineMetrics {
  readonly registry = new Registry();

  readonly eventsIn = new Counter({
    name: 'ticks_events_in_total',
    help: 'Input events by topic, event type and outcome (applied, held, dead_lettered, ignored)',
    labelNames: ['topic', 'type', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly batchDuration = new Histogram({
    name: 'ticks_batch_duration_seconds',
    help: 'Time to process one consumed batch, from decode to commit',
    labelNames: ['topic'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly batchSize = new Histogram({
    name: 'ticks_batch_records',
    help: 'Records per consumed batch',
    labelNames: ['topic'] as const,
    buckets: [1, 10, 50, 100, 500, 1000, 5000],
    registers: [this.registry],
  });

  readonly eventToEmit = new Histogram({
    name: 'ticks_event_to_emit_seconds',
    help: 'From the input event time to the update produced on receipt_updates',
    labelNames: ['kind'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 2.5, 3, 5, 10],
    registers: [this.registry],
  });

  readonly updatesEmitted = new Counter({
    name: 'ticks_updates_emitted_total',
    help: 'Updates produced on receipt_updates by kind (direct, group_summary, unread_sync)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly groupReceiptsAbsorbed = new Counter({
    name: 'ticks_group_receipts_absorbed_total',
    help: 'Group receipts that changed state and were absorbed into a window',
    registers: [this.registry],
  });

  readonly windowsClosed = new Counter({
    name: 'ticks_windows_closed_total',
    help: 'Group windows closed',
    registers: [this.registry],
  });

  readonly deadLetters = new Counter({
    name: 'ticks_dead_letters_total',
    help: 'Records sent to the dead-letter topic by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly dedupe = new Counter({
    name: 'ticks_badge_dedupe_total',
    help: 'Badge changes checked against the dedupe marks: memory_hit and aux_hit skip the main Redis write (the mark known in memory, or read from the auxiliary Redis), miss writes it',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly auxDegraded = new Gauge({
    name: 'ticks_aux_dedupe_degraded',
    help: '1 while a partition writes badges to the main Redis without the auxiliary dedupe (aux failed, or its marks are being repaired after an outage)',
    labelNames: ['partition'] as const,
    registers: [this.registry],
  });

  readonly auxErrors = new Counter({
    name: 'ticks_aux_redis_errors_total',
    help: 'Auxiliary Redis commands that failed in a step (the step went on without dedupe)',
    registers: [this.registry],
  });

  readonly mainBadgeWrites = new Counter({
    name: 'ticks_main_redis_badge_writes_total',
    help: 'Badge writes that reached the main Redis, by the kind of conversation of the source',
    labelNames: ['conversation_kind'] as const,
    registers: [this.registry],
  });

  readonly heldReceipts = new Counter({
    name: 'ticks_held_receipts_total',
    help: 'Receipts held until their message or membership arrives, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly stepRetries = new Counter({
    name: 'ticks_step_retries_total',
    help: 'Processing steps that failed and are tried again after a back-off, by partition and by whether the error said a retry can help',
    labelNames: ['partition', 'retriable'] as const,
    registers: [this.registry],
  });

  readonly leaseLost = new Counter({
    name: 'ticks_lease_lost_total',
    help: 'Partition leases found lost (run out, or held by another process) while the partition was assigned here: its deliveries ran no after-send hook and committed nothing, and it waited for its lease again',
    labelNames: ['partition'] as const,
    registers: [this.registry],
  });

  readonly consumerLag = new Gauge({
    name: 'ticks_consumer_lag_records',
    help: 'High watermark minus the next offset to process, per topic partition',
    labelNames: ['topic', 'partition'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: 'ticks_' });
  }

  /** Sum of a counter's values (optionally matching labels); used by the live summary and tests. */
  async total(metric: Counter<string>, labels: Record<string, string> = {}): Promise<number> {
    const { values } = await metric.get();
    return values
      .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
      .reduce((sum, v) => sum + v.value, 0);
  }
}
