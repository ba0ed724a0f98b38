import { randomBytes } from 'node:crypto';
import { mainRedisFor } from '../../tests/support/test-redis';
import { RedisKeys } from '../redis/keys';
import { LeaseLostError } from '../redis/partition-lease';
import { ConversationState } from './conversation-state';
import { ToldAhead } from './told-ahead';
import type { ToldMark } from './told-marks';
import { eventually } from '../../tests/support/harness';

/** The told-ahead marks of a partition, against a real Redis: two "processes" share one hash. */
describe('ToldAhead (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}ta`;
  const keys = new RedisKeys(prefix);
  const partition = 3;
  const main = mainRedisFor(prefix);

  /** An entry's floors (null: none), checked to carry when it was written. */
  const entry = async (conversationId: string, p = partition) => {
    const json = await main.client.hget(keys.toldAhead(p), conversationId);
    if (json === null) return null;
    const { '@': at, ...floors } = JSON.parse(json) as Record<string, number>;
    expect(Date.now() - at!).toBeLessThan(60_000);
    return floors;
  };

  it('keeps what an earlier owner wrote ahead until the state holds it, merged into what the next owner writes', async () => {
    const first = new ToldAhead(main.client, keys, 3600);
    // Written before the floors are read, an entry would lose an earlier owner's: refused.
    await expect(first.write(partition, 1, [['a', 'r:B', '5|1|a-5']])).rejects.toThrow(
      'not loaded',
    );
    await first.loadFloors(partition);
    await first.write(partition, 1, [
      ['a', 'r:B', '5|1|a-5'],
      ['a', 's:B', '5'],
    ]);
    await first.write(partition, 2, [['a', 'd:A', '2|2|a-2']]);
    expect(await entry('a')).toEqual({ 'r:B': 5, 's:B': 5, 'd:A': 2 });
    // The first process dies here: nothing landed.

    const next = new ToldAhead(main.client, keys, 3600);
    await next.loadFloors(partition);
    const state = new ConversationState('a', keys.conversation('a'));
    state.setNotified('r:B', '3|9|a-3'); // Redis' state: told read 3, B read up to 3
    state.setWatermark('read', 'B', 3);
    state.setNotified('d:A', '2|8|a-2');
    next.raise(partition, state);
    expect([state.quietBelow('r:B'), state.quietBelow('s:B'), state.quietBelow('d:A')]).toEqual([
      5, 5, 0,
    ]);

    // The next owner tells A something: its entry keeps the earlier owner's floors.
    await next.write(partition, 7, [['a', 'd:B', '4|10|a-4']]);
    expect(await entry('a')).toEqual({ 'r:B': 5, 's:B': 5, 'd:A': 2, 'd:B': 4 });
    // Landed while the state is still below them: kept.
    next.landed(partition, 7, [['a', 'd:B', '4|10|a-4']], () => state);
    await next.write(partition, 8, [['b', 'r:C', '1|1|b-1']]);
    expect(await entry('a')).not.toBeNull();

    // Told up to them, and landed: deleted with a later write.
    state.setNotified('r:B', '5|11|a-5');
    state.setWatermark('read', 'B', 5);
    await next.write(partition, 9, [
      ['a', 'r:B', '5|11|a-5'],
      ['a', 's:B', '5'],
    ]);
    next.landed(
      partition,
      9,
      [
        ['a', 'r:B', '5|11|a-5'],
        ['a', 's:B', '5'],
      ],
      () => state,
    );
    await next.write(partition, 10, [['b', 'r:C', '2|2|b-2']]);
    expect(await entry('a')).toBeNull();
    expect(await entry('b')).toEqual({ 'r:C': 2 });
  });

  it('a mark raised by a later step is not deleted when an earlier step lands', async () => {
    const ahead = new ToldAhead(main.client, keys, 3600);
    await ahead.loadFloors(partition + 1);
    await ahead.write(partition + 1, 1, [['c', 'r:B', '1|1|c-1']]);
    await ahead.write(partition + 1, 2, [['c', 'r:B', '2|2|c-2']]);
    ahead.landed(partition + 1, 1, [['c', 'r:B', '1|1|c-1']], () => undefined);
    await ahead.write(partition + 1, 3, [['d', 'r:E', '1|1|d-1']]);
    // Step 2's READ 2 has not landed: its floor stays.
    expect(await entry('c', partition + 1)).toEqual({ 'r:B': 2 });
  });

  it('deletes entries its states hold already, and entries older than the hot state, with a later write', async () => {
    const p = partition + 2;
    const key = keys.toldAhead(p);
    const old = Date.now() - 7200 * 1000;
    await main.client.hset(key, {
      held: JSON.stringify({ '@': Date.now(), 'r:B': 4 }),
      old: JSON.stringify({ '@': old, 'r:B': 9 }),
      above: JSON.stringify({ '@': Date.now(), 'r:B': 6 }),
    });
    const ahead = new ToldAhead(main.client, keys, 3600);
    await ahead.loadFloors(p);
    const state = (id: string, told: number) => {
      const s = new ConversationState(id, keys.conversation(id));
      s.setNotified('r:B', `${told}|1|${id}-${told}`);
      ahead.raise(p, s);
      return s;
    };
    expect(state('held', 4).quietBelow('r:B')).toBe(0); // its state landed: stale
    expect(state('old', 2).quietBelow('r:B')).toBe(0); // not loaded: older than the state's TTL
    expect(state('above', 2).quietBelow('r:B')).toBe(6);
    await ahead.write(p, 1, [['x', 'r:B', '1|1|x-1']]);
    expect((await main.client.hkeys(key)).sort()).toEqual(['above', 'x']);
  });

  it('deletes the entries of landed steps within about a second when no later write comes (a quiet partition)', async () => {
    const p = partition + 4;
    const ahead = new ToldAhead(main.client, keys, 3600);
    await ahead.loadFloors(p);
    const state = new ConversationState('q', keys.conversation('q'));
    const marks: ToldMark[] = [['q', 'r:B', '3|1|q-3']];
    await ahead.write(p, 1, marks);
    expect(await entry('q', p)).toEqual({ 'r:B': 3 });
    state.setNotified('r:B', '3|1|q-3');
    ahead.landed(p, 1, marks, () => state);
    // Not at once: a write that comes soon takes the deletion along.
    expect(await entry('q', p)).toEqual({ 'r:B': 3 });
    await eventually('the sweep', async () => (await entry('q', p)) === null, 5_000);
    // A process that let the partition go (reset) sweeps nothing of it.
    const z: ToldMark[] = [['z', 'r:B', '1|1|z-1']];
    await ahead.write(p, 2, z);
    const zs = new ConversationState('z', keys.conversation('z'));
    zs.setNotified('r:B', '1|1|z-1');
    ahead.landed(p, 2, z, () => zs);
    ahead.reset(p);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await entry('z', p)).toEqual({ 'r:B': 1 });
  });

  it('writes under the partition lease: a writer that lost it overwrites nothing its successor wrote', async () => {
    const p = partition + 3;
    const lease = keys.partitionLease(p);
    const fenceOf = (owner: string) => () => ({ leaseKey: lease, owner });
    await main.client.set(lease, 'old');
    const old = new ToldAhead(main.client, keys, 3600, fenceOf('old'));
    await old.loadFloors(p);
    await old.write(p, 1, [['a', 'r:B', '3|1|a-3']]);
    expect(await entry('a', p)).toEqual({ 'r:B': 3 });

    // The old owner stalls past its lease; the next one takes it and tells more.
    await main.client.set(lease, 'next');
    const next = new ToldAhead(main.client, keys, 3600, fenceOf('next'));
    await next.loadFloors(p);
    await next.write(p, 1, [['a', 'r:B', '7|2|a-7']]);
    // The old owner wakes with a step it had not written ahead yet: refused, nothing written.
    await expect(old.write(p, 2, [['a', 'r:B', '4|1|a-4']])).rejects.toThrow(LeaseLostError);
    expect(await entry('a', p)).toEqual({ 'r:B': 7 });
    await main.client.del(lease);
    await expect(next.write(p, 2, [['b', 'r:C', '1|1|b-1']])).rejects.toThrow(LeaseLostError);
    expect(await entry('b', p)).toBeNull();
  });
});
