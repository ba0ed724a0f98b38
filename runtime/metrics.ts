import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from './process-metrics';

/**
 * Push reduction of group windows, the one definition every figure uses (metrics, `npm start`'s
 * live summary, the bench, the README): 1 − pushes sent ÷ pushes the direct-chat rule would have
 * sent for the same group receipts (per receipt, one to each sender whose message it newly
 * covers). Both are counted when the windows close, in the same pass. null when there is nothing
 * to compare (no receipt told anyone).
 */
export function pushReduction(sent: number, unwindowed: number): number | null {
  return unwindowed > 0 ? 1 - sent / unwindowed : null;
}

/** Main-Redis badge writes per badge change that really happened; null before any change. */
export function badgeWritesPerChange(writes: number, changes: number): number | null {
  return changes > 0 ? writes / changes : null;
}

/** The `window_receipts` label: a closed window's receipts, in classes. */
export const WINDOW_RECEIPTS_CLASSES = ['1', '2-4', '5-19', '20+'] as const;
export type WindowReceiptsClass = (typeof WINDOW_RECEIPTS_CLASSES)[number];
/** Windows of at least 20 receipts: the seeds' "active" windows. */
export const ACTIVE_WINDOWS: WindowReceiptsClass = '20+';

export function windowReceiptsClass(receipts: number): WindowReceiptsClass {
  return receipts >= 20 ? '20+' : receipts >= 5 ? '5-19' : receipts >= 2 ? '2-4' : '1';
}

/** Every Prometheus metric of the pipeline, on one registry (served at /metrics). */
/** Seconds buckets for what a partition's step or lane spends: 1 ms to 2.5 s. */
const STEP_SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

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
    buckets: STEP_SECONDS_BUCKETS,
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

  readonly groupPushesUnwindowed = new Counter({
    name: 'ticks_group_pushes_unwindowed_total',
    help: 'Pushes the direct-chat rule would have sent for the receipts of the group windows closed (per receipt, one to each sender whose message it newly covers), by the receipts of the window: push reduction = 1 − ticks_updates_emitted_total{kind="group_summary"} ÷ this',
    labelNames: ['window_receipts'] as const,
    registers: [this.registry],
  });

  readonly groupPushesSent = new Counter({
    name: 'ticks_group_pushes_sent_total',
    help: 'Group summaries sent when windows closed (the pushes of ticks_updates_emitted_total{kind="group_summary"}), by the receipts of the window: the push reduction per class of window',
    labelNames: ['window_receipts'] as const,
    registers: [this.registry],
  });

  readonly windowsClosed = new Counter({
    name: 'ticks_windows_closed_total',
    help: 'Group windows closed, by their receipts',
    labelNames: ['window_receipts'] as const,
    registers: [this.registry],
  });

  readonly windowCloseDelay = new Histogram({
    name: 'ticks_window_close_delay_seconds',
    help: "Wall-clock time from a group window's end to its close (its summaries handed over): what a summary waits beyond its window, for the partition's time or its lane",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5],
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

  readonly badgeChanges = new Counter({
    name: 'ticks_badge_changes_total',
    help: "Sources really added to or removed from a user's unread-senders badge (ZADD or ZREM that changed the user's index): main-Redis badge writes ÷ this = writes per real change",
    labelNames: ['op'] as const,
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

  readonly punctuationDuration = new Histogram({
    name: 'ticks_punctuation_duration_seconds',
    help: "Time one punctuation (one punctuator, one partition) held its partition's lane, its outputs' delivery included: the partition's steps wait that long",
    labelNames: ['punctuator'] as const,
    buckets: STEP_SECONDS_BUCKETS,
    registers: [this.registry],
  });

  readonly stepLaneWait = new Histogram({
    name: 'ticks_step_lane_wait_seconds',
    help: "Time a partition's queued step waited for its lane (behind punctuations, or its earlier steps' deliveries when MAX_DELIVERIES_IN_FLIGHT are under way) before it started",
    buckets: STEP_SECONDS_BUCKETS,
    registers: [this.registry],
  });

  readonly bufferedRecords = new Gauge({
    name: 'ticks_buffered_records',
    help: "Records fetched and not yet processed, over the partition tasks (each topic-partition's queue is paused at the task's maxBufferedRecords)",
    registers: [this.registry],
  });

  /** What the in-memory caches hold, read when scraped (set by the pipeline: sources). */
  cacheSizes: () => Array<{ cache: string; measure: string; value: number }> = () => [];

  readonly cacheSize = new Gauge({
    name: 'ticks_cache_size',
    help: 'What the in-memory caches hold: conversation states (count, estimated bytes), dedupe marks (count)',
    labelNames: ['cache', 'measure'] as const,
    registers: [this.registry],
    collect: () => {
      for (const { cache, measure, value } of this.cacheSizes())
        this.cacheSize.set({ cache, measure }, value);
    },
  });

  readonly consumerLag = new Gauge({
    name: 'ticks_consumer_lag_records',
    help: 'High watermark minus the next offset to process, per topic partition',
    labelNames: ['topic', 'partition'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectProcessMetrics(this.registry);
  }

  /** Sum of a counter's values (optionally matching labels); used by the live summary and tests. */
  async total(metric: Counter<string>, labels: Record<string, string> = {}): Promise<number> {
    const { values } = await metric.get();
    return values
      .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
      .reduce((sum, v) => sum + v.value, 0);
  }
}
