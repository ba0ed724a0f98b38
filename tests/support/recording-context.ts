import type { ProcessorContext } from '../../runtime/api';
import type { InboundRecord } from '../../runtime/kafka/types';
import type { StateChange } from '../../schemas/types';

/**
 * A ProcessorContext for calling processors directly in a test: it keeps what they hand it, and
 * runs their hooks when asked, as the runtime does around a step's produce. `leaseHeld` false:
 * the partition's lease was lost (assertLeaseHeld throws).
 */
export function recordingContext(now: number, options: { partition: number; leaseHeld?: boolean }) {
  const sent: Array<{ role: string; key: string; value: unknown }> = [];
  const changes: StateChange[] = [];
  const deadLetters: Array<{ record: InboundRecord; reason: string; detail: string }> = [];
  const hooks: Array<() => Promise<void>> = [];
  const beforeHooks: Array<() => Promise<void>> = [];
  const acknowledgedHooks: Array<() => void> = [];
  /** How many of `sent` had been handed over at each release() (the runtime would send them). */
  const releasedAt: number[] = [];
  const work: Array<Promise<unknown>> = [];
  const ctx: ProcessorContext = {
    now,
    streamTime: now,
    partition: options.partition,
    send: (role, key, value) => sent.push({ role, key, value }),
    logChange: (change) => changes.push(change),
    deadLetter: (record, reason, detail) => deadLetters.push({ record, reason, detail }),
    beforeSend: (fn) => beforeHooks.push(fn),
    afterSend: (fn) => hooks.push(fn),
    afterAcknowledged: (fn) => acknowledgedHooks.push(fn),
    waitFor: (w) => void work.push(w),
    release: () => void releasedAt.push(sent.length),
    assertLeaseHeld: () => {
      if (options.leaseHeld === false) throw new Error('lease lost');
    },
  };
  /** What the runtime does before it produces the outputs. */
  const beforeSend = () => Promise.all(beforeHooks.map((fn) => fn()));
  /** Kafka has the outputs (the runtime then runs the after-send hooks, lease permitting). */
  const acknowledge = () => acknowledgedHooks.forEach((fn) => fn());
  /** The outputs produced: the after-send hooks run in order, each after the one before. */
  const afterSend = async () => {
    await beforeSend();
    acknowledge();
    for (const fn of hooks) await fn();
  };
  /** The work the processors left running (waitFor), settled. */
  const settleWork = () => Promise.all(work);
  return {
    ctx,
    sent,
    changes,
    deadLetters,
    releasedAt,
    settleWork,
    beforeSend,
    acknowledge,
    afterSend,
  };
}
