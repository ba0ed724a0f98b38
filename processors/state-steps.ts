import type { ProcessorContext } from '../runtime/api';
import type { ConversationStates, WriteBehind } from '../stores/state/conversation-states';
import type { EngineStep } from './engine/engine-step';

/** An engine step bound to one processing context, and the way to mark what it changed. */
export interface StateStep extends EngineStep {
  /** Marks a conversation as changed: it stays in memory until this step's flush lands. */
  touch(conversationId: string): void;
}

/**
 * Binds the partition-owned conversation states to the runtime's steps: each context (a step or
 * a punctuation of one partition) gets one write-behind, flushed by a before-send hook with the
 * context's encoded outputs and changelog as its outbox, in one atomic write — before anything
 * is produced — and cleared of that outbox once they are produced, before the commit. A crash
 * before the flush redoes the step from the old state (nothing was told); a crash after it
 * finds the effects in Redis (a redo tells nothing new) and the outputs in the outbox, which
 * whoever loads the partition next produces. The after-send hooks (dedupe marks, window index)
 * all run after the state is in Redis.
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
      };
      this.steps.set(ctx, step);
      ctx.beforeSend((records) => behind.flush(records));
      ctx.afterSend(() => behind.produced());
    }
    return step;
  }
}
