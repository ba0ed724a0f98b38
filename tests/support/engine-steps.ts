import type { RedisClient } from '../../stores/redis/connect';
import { applyReceipts } from '../../processors/engine/apply-receipts';
import { deliveredByNeeded } from '../../processors/engine/delivered-by-needed';
import type { EngineStep } from '../../processors/engine/engine-step';
import { applyMemberChanges } from '../../processors/engine/members-changed';
import { applyMessagesSent } from '../../processors/engine/messages-sent';
import { applyMessagesDeleted } from '../../processors/engine/messages-deleted';
import { loadConversations, loadDeliveredBy } from '../../stores/state/conversation-loader';
import type { RedisKeys } from '../../stores/redis/keys';
import type { ConversationState } from '../../stores/state/conversation-state';
import { WriteSet, type RedisCommand } from '../../stores/state/write-set';
import type { Call, ConversationEventGenerator } from './conversation-event-generator';

/** The states of these conversations, with the delivered-by-id hashes named loaded. */
export type StatesOf = (
  conversationIds: string[],
  deliveredBy: Map<string, string[]>,
) => Promise<Map<string, ConversationState>>;

/**
 * One step of seeded calls through the engine, as the pipeline runs one: the states it touches
 * (from `statesOf`), the calls applied in order, their writes gathered in one WriteSet, which is
 * returned unflushed with each call's result. `onLookup` is told when a direct chat's update
 * lookup needed delivered-by-id entries an earlier receipt confirmed (loaded then).
 */
export async function applyCalls(
  redis: RedisClient,
  calls: Call[],
  statesOf: StatesOf,
  ttlSeconds: number,
  onLookup: () => void = () => undefined,
): Promise<{ step: EngineStep; results: unknown[] }> {
  const deliveredBy = new Map<string, string[]>();
  for (const c of calls)
    if (c.type === 'receipts')
      for (const r of c.events)
        if (r.command.type === 'dlv_ids')
          deliveredBy.set(c.conversationId, [
            ...(deliveredBy.get(c.conversationId) ?? []),
            ...r.command.messageIds,
          ]);
  const states = await statesOf(
    calls.map((c) => c.conversationId),
    deliveredBy,
  );
  // The scripts keep every message: no trim in a comparison with them (the generated
  // conversations stay far below the cap; trimMessages has tests of its own).
  const step: EngineStep = {
    writes: new WriteSet(),
    ttlSeconds,
    now: Date.now(),
    maxIndexedMessages: Number.MAX_SAFE_INTEGER,
  };
  const results: unknown[] = [];
  for (const c of calls) {
    const state = states.get(c.conversationId)!;
    if (c.type === 'messages') results.push(applyMessagesSent(state, c.events, step));
    else if (c.type === 'members') results.push(applyMemberChanges(state, c.events, step));
    else if (c.type === 'deletions') results.push(applyMessagesDeleted(state, c.events, step));
    else {
      // A direct chat's update lookup may test messages confirmed by earlier receipts.
      const missing = deliveredByNeeded(state, c.events);
      if (missing.length > 0) {
        onLookup();
        await loadDeliveredBy(redis, [{ state, messageIds: missing }]);
      }
      results.push(applyReceipts(state, c.events, step));
    }
  }
  return { step, results };
}

/**
 * Writes calls into Redis as the pipeline would (states loaded from Redis, one step, flushed):
 * state a test sets up behind the back of the process under test, which reloads it.
 */
export async function writeThroughEngine(
  redis: RedisClient,
  keys: RedisKeys,
  calls: Call[],
  ttlSeconds: number,
): Promise<void> {
  const { step } = await applyCalls(
    redis,
    calls,
    (ids, deliveredBy) => loadConversations(redis, keys, ids, deliveredBy),
    ttlSeconds,
  );
  await step.writes.flush(redis);
}

/**
 * The first `count` commands, as a crash leaves them: RedisClient discards a transaction whose EXEC
 * never came (the connection dropped), so one left open is not sent at all.
 */
export function cutShort(commands: RedisCommand[], count: number): RedisCommand[] {
  const names = commands.slice(0, count).map((c) => c[0]);
  const open = names.lastIndexOf('multi');
  return commands.slice(0, open > names.lastIndexOf('exec') ? open : count);
}

/** Every key name a conversation of the generator may have (after its prefix): no SCAN needed. */
export function conversationKeyNames(
  gen: ConversationEventGenerator,
  conversationId: string,
): string[] {
  return [
    ...['meta', 'ix', 'msg', 'msgs', 'win', 'held'],
    ...['deleted', 'marked'],
    'dlv',
    'log',
    ...gen.usersOf(conversationId).map((u) => `log:${u}`),
  ];
}
