import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis/connect';
import { loadConfig } from '../../config/config';
import { SeededRandom } from '../../scripts/traffic/random';
import {
  ConversationEventGenerator,
  type Call,
} from '../../tests/support/conversation-event-generator';
import {
  applyCalls,
  conversationKeyNames,
  cutShort,
  type StatesOf,
} from '../../tests/support/engine-steps';
import { dumpKeys, type DumpedKey } from '../../tests/support/redis-dump';
import { connectRedis } from '../redis/connect';
import { RedisKeys } from '../redis/keys';
import { loadConversations } from './conversation-loader';
import { execPipeline, pipelineOf } from '../redis/pipeline';
import { sendCommands } from './write-set';
import { deleteKeys } from '../redis/keyspace';

/**
 * A crash may stop a step's write-behind after any of its commands (a flush is one MULTI/EXEC
 * per conversation, in one round trip: what Redis received of it stays). The pipeline then
 * redoes the step from its last commit, from the states Redis holds. For seeded steps through
 * the engine on a real Redis: the flush of one step — many conversations, and in one seed a
 * member list long enough to take several commands — is cut after k commands for every k from 0
 * (nothing written) to all of them (written whole, its offsets not committed); the step is then
 * redone from the states loaded afresh, and Redis must hold, key for key (expiries included),
 * what the clean run holds after that step.
 */
describe('a step whose write-behind was cut after any number of commands, redone from Redis, ends as a clean run', () => {
  const TTL = 86_400;
  /** Steps before the one cut (they build a history of members, messages and receipts). */
  const BEFORE = 30;
  const run = randomBytes(4).toString('hex');
  let redis: RedisClient;

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
  });
  afterAll(() => redis.disconnect());

  it.each([
    [1, 'three random steps as one'],
    [2, 'three random steps as one'],
    [3, 'random steps and a crowd joining a group'],
    [4, 'random steps with deletions and marks as unread'],
    [5, 'random steps with deletions and marks as unread'],
  ])('seed %i: %s', async (seed) => {
    const gen = new ConversationEventGenerator(new SeededRandom(seed), 3, 3, seed >= 4);
    const history = Array.from({ length: BEFORE }, () => inPipelineOrder(gen.step()));
    const cut = inPipelineOrder([
      ...gen.step(),
      ...(seed === 3 ? [gen.crowd('g1', 1500, 0)] : []),
      ...gen.step(),
      ...gen.step(),
    ]);
    const conversations = gen.conversations.map((c) => c.id);
    let runs = 0;
    /** Prefixes written and not removed yet. */
    const live = new Set<RedisKeys>();
    const fresh = (): RedisKeys => {
      const keys = new RedisKeys(`t${run}c${seed}r${runs++}`);
      live.add(keys);
      return keys;
    };

    /** The history's keys (name after the prefix → DUMP and PTTL), written once. */
    let written: Array<{ name: string; value: Buffer; pttl: number }> = [];

    /** A fresh prefix holding the history's state: the state the cut step starts from. */
    async function afterHistory(): Promise<RedisKeys> {
      const keys = fresh();
      const pipe = pipelineOf(redis);
      for (const { name, value, pttl } of written)
        pipe.restore(`${keys.all().slice(0, -1)}${name}`, pttl > 0 ? pttl : 0, value);
      await execPipeline(pipe);
      return keys;
    }

    /** Every key of every conversation of the generator, by name after the prefix. */
    async function dump(keys: RedisKeys): Promise<Record<string, Record<string, DumpedKey>>> {
      const out: Record<string, Record<string, DumpedKey>> = {};
      for (const id of conversations)
        out[id] = await dumpKeys(redis, keys.conversation(id), conversationKeyNames(gen, id));
      return out;
    }

    async function remove(keys: RedisKeys): Promise<void> {
      live.delete(keys);
      const names = conversations.flatMap((id) =>
        conversationKeyNames(gen, id).map((n) => keys.conversation(id) + n),
      );
      await deleteKeys(redis, names);
    }

    try {
      const base = fresh();
      for (const calls of history) {
        const { step } = await applyCalls(redis, calls, reloaded(base), TTL);
        await step.writes.flush(redis);
      }
      const names = conversations.flatMap((id) =>
        conversationKeyNames(gen, id).map((n) => base.conversation(id) + n),
      );
      const pipe = pipelineOf(redis);
      for (const name of names) pipe.dumpBuffer(name).pttl(name);
      const replies = await execPipeline(pipe);
      const prefixLength = base.all().length - 1;
      written = names.flatMap((name, i) => {
        const value = replies[2 * i] as Buffer | null;
        const pttl = replies[2 * i + 1] as number;
        return value ? [{ name: name.slice(prefixLength), value, pttl }] : [];
      });
      expect(written.length).toBeGreaterThan(20);
      await remove(base);

      const clean = await afterHistory();
      const { step } = await applyCalls(redis, cut, reloaded(clean), TTL);
      const commands = step.writes.commands();
      await step.writes.flush(redis);
      const expected = await dump(clean);
      await remove(clean);
      // Several conversations, each a transaction: the cuts fall between and inside them.
      expect(commands.filter((c) => c[0] === 'multi').length).toBeGreaterThanOrEqual(3);
      // The crowd's members go in slices: a cut may fall inside one conversation's writes.
      if (seed === 3)
        expect(
          commands.filter((c) => c[0] === 'hset' && c[1]?.endsWith(':meta')).length,
        ).toBeGreaterThanOrEqual(2);

      const leftByCuts = new Set<string>();
      for (let k = 0; k <= commands.length; k++) {
        const keys = await afterHistory();
        const first = await applyCalls(redis, cut, reloaded(keys), TTL);
        // The same state gives the same writes: the cut is of the flush the clean run sent.
        expect(first.step.writes.commands().length).toBe(commands.length);
        await sendCommands(redis, cutShort(first.step.writes.commands(), k));
        leftByCuts.add(JSON.stringify(await dump(keys)));
        const redo = await applyCalls(redis, cut, reloaded(keys), TTL);
        await redo.step.writes.flush(redis);
        expect({ k, of: commands.length, state: await dump(keys) }).toEqual({
          k,
          of: commands.length,
          state: expected,
        });
        await remove(keys);
      }
      // Nothing, all, and states in between (some conversations written, others not) were cut.
      expect(leftByCuts.size).toBeGreaterThanOrEqual(4);
      // The user actions' keys are on trial too: the history made some.
      if (seed >= 4)
        expect(written.map((w) => w.name).filter((n) => /deleted$|marked$/.test(n))).not.toEqual(
          [],
        );
    } finally {
      for (const keys of [...live]) await remove(keys);
    }
  });

  /**
   * A step's calls as the pipeline makes them: its conversation events first (the conversation
   * processor), then its receipts (the receipt processor), each in input order. (A receipt
   * before its message in one step would be held the first time and applied by a redo that
   * finds the message written: the held-receipt retry that reconciles the two is the
   * processors' part, not the engine's.)
   */
  function inPipelineOrder(calls: Call[]): Call[] {
    return [
      ...calls.filter((c) => c.type !== 'receipts'),
      ...calls.filter((c) => c.type === 'receipts'),
    ];
  }

  /** The states as a process that just started loads them: from Redis, every step. */
  function reloaded(keys: RedisKeys): StatesOf {
    return (ids, deliveredBy) => loadConversations(redis, keys, ids, deliveredBy);
  }
});
