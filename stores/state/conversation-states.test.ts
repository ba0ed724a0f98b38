import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis/connect';
import { loadConfig } from '../../config/config';
import { connectRedis } from '../redis/connect';
import { RedisKeys } from '../redis/keys';
import { LeaseLostError } from '../redis/partition-lease';
import {
  ConversationStates,
  StateDroppedByResetError,
  WriteBehindAbandonedError,
} from './conversation-states';
import { WriteSet } from './write-set';
import { deleteKeys, scanKeys } from '../redis/keyspace';
import { spyOnPipelines } from '../../tests/support/round-trips';

/**
 * The partition-owned state store against a real Redis: loads on first touch (one round trip
 * for a step's missing states, none when held), never evicts a state whose changes are not in
 * Redis yet, writes a partition's steps in order, and after a reset reloads only once the
 * writes in flight landed.
 */
describe('ConversationStates (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}cs`;
  const keys = new RedisKeys(prefix);
  let redis: RedisClient;

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
  });
  afterAll(async () => {
    const found = await redis.keys(`${prefix}:*`);
    await deleteKeys(redis, found);
    redis.disconnect();
  });

  const meta = (c: string) => keys.conversationKey(c, 'meta');
  const seed = (c: string, lastSeq: number) =>
    redis.hset(meta(c), 'kind', 'GROUP', 'last_seq', String(lastSeq));

  it('loads the missing states of a step in one round trip, and none when all are held', async () => {
    await seed('a', 3);
    await seed('b', 5);
    const states = new ConversationStates(redis, keys, { maxBytes: 1 << 30 });
    expect(() => states.get('a')).toThrow(/not loaded/);
    const pipelines = spyOnPipelines(redis);
    await states.prefetch(0, ['a', 'b', 'a']);
    expect(pipelines).toHaveBeenCalledTimes(1);
    expect(states.get('a').lastSeq).toBe(3);
    expect(states.get('b').lastSeq).toBe(5);
    await states.prefetch(0, ['b', 'a']);
    expect(pipelines).toHaveBeenCalledTimes(1);
    pipelines.mockRestore();
  });

  it('writes a step’s marks ahead as they are told: called again (a step that released updates early), it writes those told since', async () => {
    await seed('w', 1);
    const states = new ConversationStates(redis, keys, { maxBytes: 1 << 30 });
    await states.prefetch(5, ['w']);
    const step = states.writeBehind(5);
    const floors = async () => {
      const json = await redis.hget(keys.toldAhead(5), 'w');
      const { '@': _at, ...marks } = JSON.parse(json ?? '{"@":0}') as Record<string, number>;
      return marks;
    };
    step.told(['w', 'r:A', '3|7|m3']);
    await step.writeAhead();
    expect(await floors()).toEqual({ 'r:A': 3 });
    step.told(['w', 'r:B', '4|8|m4']);
    await step.writeAhead();
    expect(await floors()).toEqual({ 'r:A': 3, 'r:B': 4 });
    await step.writeAhead(); // nothing told since: nothing to write
    expect(await floors()).toEqual({ 'r:A': 3, 'r:B': 4 });
  });

  it('keeps a changed state in memory until its write-behind landed, then may evict it', async () => {
    await seed('c', 1);
    await seed('d', 1);
    // Every state is over budget: only what is not clean survives a prefetch.
    const states = new ConversationStates(redis, keys, { maxBytes: 1 });
    await states.prefetch(0, ['c']);
    const step = states.writeBehind(0);
    states.get('c').lastSeq = 9; // a change only memory knows until the flush
    step.writes.hash(meta('c')).set('last_seq', '9');
    step.touch('c');
    await states.prefetch(0, ['d']);
    expect(states.peek('c')?.lastSeq).toBe(9);
    await step.flush();
    expect(await redis.hget(meta('c'), 'last_seq')).toBe('9');
    await states.prefetch(0, ['d']);
    expect(states.peek('c')).toBeUndefined();
    await states.prefetch(0, ['c']);
    expect(states.get('c').lastSeq).toBe(9); // reloaded from what the flush wrote
  });

  it('keeps a state with an open group window in memory until the window is gone: its close reads it', async () => {
    await seed('w', 1);
    await seed('x', 1);
    await redis.hset(keys.conversationKey('w', 'win'), 'ver', '1');
    const states = new ConversationStates(redis, keys, { maxBytes: 1 }); // every state over budget
    await states.prefetch(0, ['w']);
    expect(states.get('w').window.size).toBe(1);
    await states.prefetch(0, ['x']);
    expect(states.peek('w')).toBeDefined(); // kept: the window is open
    states.get('w').deleteWindow(); // closed
    await states.prefetch(0, ['x']);
    expect(states.peek('w')).toBeUndefined();
  });

  it('a fenced flush lands only while the partition lease names this writer; one refused stops the steps after it', async () => {
    await seed('f', 1);
    const lease = keys.partitionLease(0);
    const states = new ConversationStates(redis, keys, {
      maxBytes: 1 << 30,
      fence: (partition) => ({ leaseKey: keys.partitionLease(partition), owner: 'me' }),
    });
    const flush = async (lastSeq: string) => {
      const step = states.writeBehind(0);
      step.writes.hash(meta('f')).set('last_seq', lastSeq);
      await step.flush();
    };
    await redis.set(lease, 'me', 'PX', 10_000);
    await flush('2');
    expect(await redis.hget(meta('f'), 'last_seq')).toBe('2');

    // This writer stalled past its lease (its own check passed before the stall); the next
    // owner took the lease and wrote since. The late step must not overwrite it.
    await redis.set(lease, 'next', 'PX', 10_000);
    await redis.hset(meta('f'), 'last_seq', '5');
    const late = states.writeBehind(0);
    const after = states.writeBehind(0);
    late.writes.hash(meta('f')).set('last_seq', '3');
    after.writes.hash(meta('f')).set('last_seq', '4');
    await expect(late.flush()).rejects.toBeInstanceOf(LeaseLostError);
    await expect(after.flush()).rejects.toBeInstanceOf(WriteBehindAbandonedError);
    expect(await redis.hget(meta('f'), 'last_seq')).toBe('5');

    // Nobody's lease (it ran out): refused too.
    await redis.del(lease);
    states.resetPartition(0);
    await expect(flush('6')).rejects.toBeInstanceOf(LeaseLostError);
    expect(await redis.hget(meta('f'), 'last_seq')).toBe('5');
  });

  it('a step asking for a state its partition reset dropped meanwhile gets a retriable error; an unloaded one is a programming error', async () => {
    await seed('r1', 1);
    await seed('r2', 1);
    const states = new ConversationStates(redis, keys, { maxBytes: 1 << 30 });
    await states.prefetch(4, ['r1']);
    await states.prefetch(5, ['r2']);
    states.resetPartition(4); // a lease lost while a step of partition 4 was computing
    states.resetPartition(4); // and again before the step asked (a failed redo, say)
    const thrownBy = (id: string): unknown => {
      try {
        states.get(id);
      } catch (err) {
        return err;
      }
    };
    const dropped = thrownBy('r1');
    expect(dropped).toBeInstanceOf(StateDroppedByResetError);
    expect(dropped).toMatchObject({ retriable: true, partition: 4 });
    expect(states.get('r2').lastSeq).toBe(1); // another partition's states are kept
    const unloaded = thrownBy('never-prefetched');
    expect(unloaded).toBeInstanceOf(Error);
    expect(unloaded).not.toBeInstanceOf(StateDroppedByResetError);
    expect((unloaded as { retriable?: boolean }).retriable).toBeUndefined();
    await states.prefetch(4, ['r1']); // loaded again: a later miss is not the reset's
    expect(states.get('r1').lastSeq).toBe(1);
  });

  it("writes a partition's steps in step order, whatever order their flushes are called in", async () => {
    await seed('e', 1);
    const states = new ConversationStates(redis, keys, { maxBytes: 1 << 30 });
    const first = states.writeBehind(0);
    const second = states.writeBehind(0);
    first.writes.hash(meta('e')).set('last_seq', '2');
    second.writes.hash(meta('e')).set('last_seq', '3');
    // The first step's flush is called second (its produce took longer): it still goes first.
    const later = second.flush();
    await first.flush();
    await later;
    expect(await redis.hget(meta('e'), 'last_seq')).toBe('3');
  });

  it('abandons the write-behinds a reset finds unflushed, and those after a failed one', async () => {
    await seed('h', 1);
    const states = new ConversationStates(redis, keys, { maxBytes: 1 << 30 });
    const abandoned = states.writeBehind(3);
    abandoned.writes.hash(meta('h')).set('last_seq', '2');
    const after = states.writeBehind(3);
    after.writes.hash(meta('h')).set('last_seq', '3');
    const afterFlush = after.flush();
    states.resetPartition(3); // e.g. the first step's produce failed: it never flushes
    await expect(afterFlush).rejects.toThrow(/abandoned/);
    await expect(abandoned.flush()).rejects.toThrow(/abandoned/);
    expect(await redis.hget(meta('h'), 'last_seq')).toBe('1');
    // A new write-behind after the reset is written.
    const fresh = states.writeBehind(3);
    fresh.writes.hash(meta('h')).set('last_seq', '4');
    await fresh.flush();
    expect(await redis.hget(meta('h'), 'last_seq')).toBe('4');
  });

  it('after a reset, drops the partition and reloads only once its writes in flight settled', async () => {
    await seed('f', 1);
    await seed('g', 1);
    const states = new ConversationStates(redis, keys, { maxBytes: 1 << 30 });
    await states.prefetch(0, ['f']);
    await states.prefetch(1, ['g']);
    let land!: () => void;
    const inFlight = new Promise<void>((resolve) => (land = resolve));
    states.resetPartition(0, inFlight);
    expect(states.peek('f')).toBeUndefined();
    expect(states.peek('g')).toBeDefined(); // another partition's states stay
    let loaded = false;
    const reload = states.prefetch(0, ['f']).then(() => (loaded = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(loaded).toBe(false);
    await redis.hset(meta('f'), 'last_seq', '7'); // what the delivery in flight wrote
    land();
    await reload;
    expect(states.get('f').lastSeq).toBe(7);
  });
});

describe('WriteSet.flushAsScript (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}ws`;
  let redis: RedisClient;

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
  });
  afterAll(async () => {
    const found = await scanKeys(redis, `${prefix}*`);
    await deleteKeys(redis, found);
    redis.disconnect();
  });

  function writes(p: string): WriteSet {
    const w = new WriteSet();
    w.hash(`${p}:{c}:h`).set('a', '1');
    w.hash(`${p}:{c}:h`).set('b', '2');
    w.hash(`${p}:{c}:h`).expire(600);
    w.sortedSet(`${p}:{c}:z`).add('5', 'x');
    w.set(`${p}:{c}:s`).add('m');
    w.set(`${p}:{c}:s`).add('n');
    w.set(`${p}:{c}:s`).remove('n');
    w.hash(`${p}:{c}:gone`).set('f', 'v');
    w.hash(`${p}:{c}:gone`).del();
    return w;
  }

  it('leaves Redis as the pipelined commands do, in one client command', async () => {
    const scripted = `${prefix}A`;
    const piped = `${prefix}B`;
    await redis.hset(`${scripted}:{c}:gone`, 'old', '1');
    await redis.hset(`${piped}:{c}:gone`, 'old', '1');
    await writes(scripted).flushAsScript(redis);
    await writes(piped).flush(redis);
    for (const suffix of ['h', 'z', 's', 'gone']) {
      const [a, b] = [`${scripted}:{c}:${suffix}`, `${piped}:{c}:${suffix}`];
      expect(await redis.type(a)).toBe(await redis.type(b));
      expect(await redis.dump(a)).toEqual(await redis.dump(b));
      expect((await redis.ttl(a)) > 0).toBe((await redis.ttl(b)) > 0);
    }
    expect(await redis.hgetall(`${scripted}:{c}:h`)).toEqual({ a: '1', b: '2' });
    expect(await redis.exists(`${scripted}:{c}:gone`)).toBe(0);
  });
});
