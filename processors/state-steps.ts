import type { ProcessorContext } from '../runtime/api';
import type { ConversationStates, WriteBehind } from '../stores/state/conversation-states';
import type { EngineStep } from './engine/engine-step';
import type { ToldMark } from '../stores/state/told-marks';

/** An engine step bound to one processing context, and the way to mark what it changed. */
export interface StateStep extends EngineStep {
  /** Marks a conversation as changed: it stays in memory until this step's flush lands. */
  touch(conversationId: string): void;
  /** How far acknowledged unread syncs told the user's devices they read (ToldMarks). */
  syncedUpTo(conversationId: string, userId: string): number;
  /** What the step tells, written ahead of its outputs (told-ahead.ts). */
  told(mark: ToldMark): void;
}

/**
 * Binds the partition-owned conversation states to the runtime's steps: each context (a step or
 * a punctuation of one partition) gets one write-behind, flushed by an after-send hook — after
 * the context's outputs and changelog were produced, before its offsets commit — so a crash
 * before the flush redoes the step from the old state with the same outputs, and a crash after
 * it finds the effects in Redis (a redo changes nothing). The flush hook is registered when the
 * context first touches state, ahead of the hooks registered after it (dedupe marks, window
 * index), which therefore run after the state is in Redis.
 */
export class StateSteps {
  private readonly steps = new WeakMap<ProcessorContext, StateStep>();

  constructor(
    readonly states: ConversationStates,
    private readonly ttlSeconds: number,
    private readonly maxIndexedMessages: number,
  ) {}

  of(ctx: ProcessorContext): StateStep {
    let step = this.steps.get(ctx);
    if (!step) {
      const behind: WriteBehind = this.states.writeBehind(ctx.partition);
      step = {
        writes: behind.writes,
        ttlSeconds: this.ttlSeconds,
        now: ctx.now,
        maxIndexedMessages: this.maxIndexedMessages,
        touch: (conversationId) => behind.touch(conversationId),
        told: (mark) => behind.told(mark),
        syncedUpTo: (conversationId, userId) => this.states.syncedUpTo(conversationId, userId),
      };
      this.steps.set(ctx, step);
      // What it tells is in Redis before anybody can hear it: a redo anywhere tells no older.
      ctx.beforeSend(() => behind.writeAhead());
      // What it told is true once Kafka has it, even if its lease is lost before the flush.
      ctx.afterAcknowledged(() => behind.acknowledged());
      ctx.afterSend(() => behind.flush());
    }
    return step;
  }
}
