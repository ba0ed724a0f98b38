import { SeededRandom } from '../../scripts/traffic/random';
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis/connect';
import { loadConfig } from '../../config/config';
import {
  clearWindow,
  collectWindow,
  windowDeliveredByNeeded,
} from '../../processors/engine/group-window';
import {
  ConversationEventGenerator,
  type Call,
} from '../../tests/support/conversation-event-generator';
import { applyCalls, conversationKeyNames, cutShort } from '../../tests/support/engine-steps';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { asReferenceLayout, dumpKeys, type DumpedKey } from '../../tests/support/redis-dump';
import { connectRedis } from '../redis/connect';
import {
  ConversationStore,
  type MemberChangedResult,
  type MessageSentResult,
  type ReceiptResult,
  type WindowContents,
} from '../redis/conversation-store';
import { RedisKeys } from '../redis/keys';
import { runQueued, type Queued } from '../redis/pipeline';
import { loadConversations, loadDeliveredBy } from './conversation-loader';
import type { ConversationState } from './conversation-state';
import { sendCommands, WriteSet } from './write-set';

/**
 * The in-memory engine against the Lua scripts it replaces, on a real Redis. The same seeded
 * random events go (a) through the scripts (ConversationStore, one pipeline a step) under one
 * prefix, and (b) through load → engine → WriteSet.flush under another, with the state loaded
 * afresh from Redis every step in most seeds (so the loader and the writer are on trial too),
 * kept from step to step in others (see the modes below). After every
 * step the results must be equal and the touched conversations' keys too; at the end, every
 * key. Group windows are collected and cleared at random points on both sides; receipts are
 * held and released, and conversations aged (expiries removed: a refresh is due), on both sides alike.
 */
describe('engine ≡ scripts (real Redis, seeded random events)', () => {
  const TTL = 86_400;
  const STEPS = 150;
  const run = randomBytes(4).toString('hex');
  const prefixes: string[] = [];
  let redis: RedisClient;
  /** How often each rule came up, over all seeds: the events must reach every rule. */
  const seen = new Map<string, number>();
  const saw = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
  });
  afterEach(async () => {
    for (const prefix of prefixes.splice(0)) {
      const keys = await scanKeys(redis, `${prefix}:*`);
      await deleteKeys(redis, keys);
    }
  });
  afterAll(() => redis.disconnect());

  /**
   * reload: (b) loads its state from Redis every step. cut: besides, some flushes stop after a
   * random number of commands (a crash) and the step is done again from what Redis then holds
   * (a replay from the last committed offset). cached: (b) keeps its states from step to step,
   * as the owner of a partition will, loading a conversation only on first use: what it holds
   * must stay what it wrote.
   */
  it.each<[number, 'reload' | 'cut' | 'cached']>([
    [1, 'reload'],
    [2, 'reload'],
    [3, 'reload'],
    [4, 'reload'],
    [5, 'cut'],
    [6, 'cut'],
    [7, 'cached'],
    [8, 'cached'],
  ])('seed %i, state %s', async (seed, mode) => {
    const cuts = mode === 'cut';
    const scriptsKeys = new RedisKeys(`t${run}s${seed}a`);
    const engineKeys = new RedisKeys(`t${run}s${seed}b`);
    prefixes.push(`t${run}s${seed}a`, `t${run}s${seed}b`);
    const store = new ConversationStore(redis, scriptsKeys, TTL);
    const rng = new SeededRandom(seed);
    const gen = new ConversationEventGenerator(rng, 3, 3);
    const both = [scriptsKeys, engineKeys];
    // Its own stream, so that cutting changes nothing of the events.
    const cutRng = new SeededRandom(seed * 7919);
    const cache = new Map<string, ConversationState>();

    /** The states of these conversations, with these delivered-by-id hashes loaded. */
    async function statesOf(
      ids: string[],
      dlvIds = new Map<string, string[]>(),
    ): Promise<Map<string, ConversationState>> {
      if (mode !== 'cached') return loadConversations(redis, engineKeys, ids, dlvIds);
      const fresh = ids.filter((id) => !cache.has(id));
      for (const [id, state] of await loadConversations(redis, engineKeys, fresh, dlvIds))
        cache.set(id, state);
      await loadDeliveredBy(
        redis,
        [...dlvIds].map(([id, messageIds]) => {
          const state = cache.get(id)!;
          return { state, messageIds: messageIds.filter((m) => !state.deliveredBy(m)) };
        }),
      );
      return new Map(ids.map((id) => [id, cache.get(id)!]));
    }

    /**
     * (b): load what the step touches, apply in order, flush once. A step cut short is done
     * again: its results are the replay's, not comparable (null).
     */
    async function throughEngine(calls: Call[]): Promise<unknown[] | null> {
      const { step, results } = await applyCalls(redis, calls, statesOf, TTL, () =>
        saw('dlv loaded for an update lookup'),
      );
      if (cuts && cutRng.chance(0.25)) {
        const commands = step.writes.commands();
        await sendCommands(redis, cutShort(commands, cutRng.int(0, commands.length - 1)));
        saw('flush cut short, step replayed');
        await throughEngine(calls);
        return null;
      }
      await step.writes.flush(redis);
      return results;
    }

    /**
     * After a cut flush and its replay the state is the same but for expiries: replaying a
     * step that had landed whole refreshes them again where the step forced a refresh (a member
     * removed), as a replay through the scripts does.
     */
    const comparable = (dump: Record<string, DumpedKey>): Record<string, DumpedKey> =>
      cuts
        ? Object.fromEntries(
            Object.entries(dump).map(([n, key]) => [n, { ...key, expires: false }]),
          )
        : dump;

    function throughScripts(calls: Call[]): Promise<unknown[]> {
      return runQueued(
        redis,
        calls.map((c): Queued<unknown> => {
          if (c.type === 'messages') return store.messagesSent(c.conversationId, c.events);
          if (c.type === 'members') return store.membersChanged(c.conversationId, c.events);
          if (c.type === 'deletions')
            throw new Error(
              'the scripts know no deletion: this generator makes none (userActions off)',
            );
          return store.applyReceipts(c.conversationId, c.events);
        }),
      );
    }

    /** A conversation's keys by name, on both sides (names known: no SCAN of a shared Redis). */
    async function expectSameConversation(step: number, conversationId: string) {
      const names = conversationKeyNames(gen, conversationId);
      const viaEngine = asReferenceLayout(
        await dumpKeys(redis, engineKeys.conversation(conversationId), names),
      );
      // The logs the engine's fields hold name their keys on the scripts' side (a user the
      // generator's list may not name).
      const logNames = Object.keys(viaEngine).filter((n) => n.startsWith('log:'));
      const viaScripts = await dumpKeys(redis, scriptsKeys.conversation(conversationId), [
        ...new Set([...names, ...logNames]),
      ]);
      expect({ step, conversationId, keys: comparable(viaEngine) }).toEqual({
        step,
        conversationId,
        keys: comparable(viaScripts),
      });
    }

    async function collectBoth(step: number, conversationId: string) {
      const maxMessages = rng.pick([1, 3, 50]);
      const scanLimit = rng.pick([2, 256]);
      const [viaScripts] = await runQueued(redis, [
        store.collectWindow(conversationId, maxMessages, scanLimit),
      ]);
      const state = (await statesOf([conversationId])).get(conversationId)!;
      const missing = windowDeliveredByNeeded(state, maxMessages, scanLimit);
      await loadDeliveredBy(redis, [{ state, messageIds: missing }]);
      const viaEngine = collectWindow(state, maxMessages, scanLimit);
      expect({ step, conversationId, window: sortedWindow(viaEngine) }).toEqual({
        step,
        conversationId,
        window: sortedWindow(viaScripts!),
      });
      if (viaScripts) {
        const senders = new Set(viaScripts.messages.map((m) => m.sender)).size;
        if (senders >= 2) saw('window tells several senders');
        if ((viaScripts.unwindowed ?? 0) > senders) saw('window saves pushes');
      }
      return viaScripts;
    }

    async function clearBoth(step: number, conversationId: string, version: number) {
      const [viaScripts] = await runQueued(redis, [store.clearWindow(conversationId, version)]);
      const state = (await statesOf([conversationId])).get(conversationId)!;
      const writes = new WriteSet();
      const viaEngine = clearWindow(state, version, writes);
      await writes.flush(redis);
      saw(viaScripts ? 'window cleared' : 'window moved on, kept');
      expect({ step, conversationId, cleared: viaEngine }).toEqual({
        step,
        conversationId,
        cleared: viaScripts,
      });
    }

    /** Between steps: what the rest of the pipeline or time does to both sides alike. */
    async function meanwhile(step: number) {
      const c = rng.pick(gen.conversations).id;
      if (rng.chance(0.06)) {
        // The receipt processor holds or releases receipts: has_held follows.
        const hold = rng.chance(0.6);
        for (const k of both) {
          const held = k.conversationKey(c, 'held');
          await (hold ? redis.zadd(held, 1, 'x') : redis.del(held));
        }
        const state = cache.get(c);
        if (state) {
          if (hold) state.hold('x', 1);
          else for (const entry of [...state.held.keys()]) state.release(entry);
        }
      }
      if (rng.chance(0.06) && (await redis.exists(scriptsKeys.conversationKey(c, 'meta')))) {
        // An hour passes: the next event refreshes the core keys' expiries; which keys get one
        // must match. (The logs and delivered-by hashes keep theirs: the engine refreshes them
        // on a write when it did not lately, the scripts on every write, and both set one on
        // the write that creates them.)
        saw('aged');
        for (const k of both) {
          const keys = await scanKeys(redis, `${k.conversation(c)}*`);
          for (const key of keys) if (!/:(log:|dlv$|log$)/.test(key)) await redis.persist(key);
        }
        if (cache.has(c)) cache.get(c)!.metaExpiresAt = 0;
      }
      for (const [conversationId, version] of pendingClears) {
        pendingClears.delete(conversationId);
        await clearBoth(step, conversationId, version);
      }
      if (rng.chance(0.3)) {
        const window = await collectBoth(step, c);
        if (window) {
          saw('window collected');
          const version = rng.chance(0.15) ? window.version - 1 : window.version;
          // Now, or after the next step's receipts (which may have moved the window on).
          if (rng.chance(0.6)) await clearBoth(step, c, version);
          else pendingClears.set(c, version);
        }
      }
    }

    const pendingClears = new Map<string, number>();
    for (let step = 0; step < STEPS; step++) {
      const calls =
        seed === 1 && step === 40
          ? [gen.crowd('g0', 1000, 0), gen.crowd('g0', 1000, 1000), gen.call(gen.conversations[3])]
          : gen.step();
      const viaScripts = await throughScripts(calls);
      const viaEngine = await throughEngine(calls);
      if (viaEngine)
        expect({ step, calls, results: sortedResults(calls, viaEngine) }).toEqual({
          step,
          calls,
          results: sortedResults(calls, viaScripts),
        });
      countRules(calls, viaScripts, saw);
      for (const id of new Set(calls.map((c) => c.conversationId)))
        await expectSameConversation(step, id);
      await meanwhile(step);
    }

    // Every key under each prefix, found by SCAN: nothing written where it should not be.
    const allScripts = await dumpKeys(redis, `${scriptsKeys.all().slice(0, -1)}`);
    const allEngine = await dumpKeys(redis, `${engineKeys.all().slice(0, -1)}`);
    // A run leaves tens of keys (the members' logs in fields, deliveries by id one hash per
    // conversation).
    expect(Object.keys(allEngine).length).toBeGreaterThan(20);
    expect(comparable(asReferenceLayout(allEngine))).toEqual(comparable(allScripts));
  });

  it('reached every rule', () => {
    const rules = [
      'held NOT_A_MEMBER',
      'held SEQ_NOT_REACHED',
      'held UNKNOWN_MESSAGE',
      'applied, changed',
      'applied, unchanged',
      'direct update',
      'direct update by an unchanged receipt',
      'delivered by ids',
      'group window open',
      'read to the end',
      'message, has held',
      'message, sender caught up',
      'message, sender not caught up',
      'message, nobody behind',
      'members, has held',
      'dlv loaded for an update lookup',
      'window collected',
      'window tells several senders',
      'window saves pushes',
      'window cleared',
      'window moved on, kept',
      'aged',
      'flush cut short, step replayed',
    ];
    expect(rules.filter((r) => !seen.get(r))).toEqual([]);
  });
});

function countRules(calls: Call[], results: unknown[], saw: (what: string) => void): void {
  calls.forEach((call, i) => {
    if (call.type === 'messages')
      for (const r of results[i] as MessageSentResult[]) {
        if (r.hasHeld) saw('message, has held');
        if (r.senderCaughtUp) saw('message, sender caught up');
        else saw('message, sender not caught up');
        if (r.behind.length === 0) saw('message, nobody behind');
      }
    else if (call.type === 'members') {
      if ((results[i] as MemberChangedResult).hasHeld) saw('members, has held');
    } else
      for (const r of results[i] as ReceiptResult[]) {
        if (!r.applied) {
          saw(`held ${r.reason}`);
          continue;
        }
        saw(r.changed ? 'applied, changed' : 'applied, unchanged');
        if (r.push) saw(r.changed ? 'direct update' : 'direct update by an unchanged receipt');
        if (r.newlyDeliveredIds.length > 0) saw('delivered by ids');
        if (r.windowOpen) saw('group window open');
        if (r.atEnd) saw('read to the end');
      }
  });
}

/** Set-ordered lists (SMEMBERS order in the scripts) sorted, so results compare by content. */
function sortedResults(calls: Call[], results: unknown[]): unknown[] {
  return results.map((result, i) =>
    calls[i]!.type === 'messages'
      ? (result as MessageSentResult[]).map((r) => ({
          ...r,
          behind: [...r.behind].sort(),
          members: [...r.members].sort(),
        }))
      : result,
  );
}

function sortedWindow(w: WindowContents | null): unknown {
  if (!w) return null;
  const entries = (m: Map<string, number>) => [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return {
    ...w,
    members: [...w.members].sort(),
    reads: entries(w.reads),
    delivered: entries(w.delivered),
    messages: w.messages.map((m) => ({ ...m, deliveredByIds: [...m.deliveredByIds].sort() })),
  };
}
