import { randomBytes } from 'node:crypto';
import { mainRedisFor } from '../../tests/support/test-redis';
import { WriteSet, type ZaddCondition } from './write-set';

/**
 * A sorted set's conditional adds in a write-behind (the users' conversation lists: ZADD XX; the
 * window and held-receipt indexes: ZADD LT) coalesce to what sending each operation in order
 * gives — checked against a real Redis over random sequences, from a key that exists, one that
 * does not, and one a step deletes.
 */
describe('WriteSet sorted-set conditions (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}zc`;
  const main = mainRedisFor(prefix);

  type Op =
    | { op: 'add'; score: number; member: string; condition?: ZaddCondition }
    | { op: 'remove'; member: string }
    | { op: 'del' };

  /** A seeded generator (mulberry32): a failure names its seed. */
  const random = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  const sequence = (seed: number, condition: ZaddCondition): Op[] => {
    const next = random(seed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)]!;
    return Array.from({ length: 12 }, (): Op => {
      const member = pick(['a', 'b', 'c']);
      const r = next();
      if (r < 0.05) return { op: 'del' };
      if (r < 0.25) return { op: 'remove', member };
      const score = Math.floor(next() * 100);
      return r < 0.55 ? { op: 'add', score, member } : { op: 'add', score, member, condition };
    });
  };

  it.each(['XX', 'LT'] as const)('ZADD %s: coalesced equals one by one', async (condition) => {
    for (let seed = 1; seed <= 150; seed++) {
      const ops = sequence(seed, condition);
      const seeded = seed % 2 === 0; // half start from a key holding a and b
      const direct = `${prefix}:${condition}:${seed}:direct`;
      const coalesced = `${prefix}:${condition}:${seed}:coalesced`;
      if (seeded)
        for (const key of [direct, coalesced]) await main.client.zadd(key, 50, 'a', 50, 'b');

      const writes = new WriteSet();
      const set = () => writes.sortedSet(coalesced);
      for (const o of ops) {
        if (o.op === 'del') {
          await main.client.del(direct);
          set().del();
        } else if (o.op === 'remove') {
          await main.client.zrem(direct, o.member);
          set().remove(o.member);
        } else {
          await (o.condition
            ? main.client.zadd(direct, o.condition, o.score, o.member)
            : main.client.zadd(direct, o.score, o.member));
          set().add(String(o.score), o.member, o.condition);
        }
      }
      await writes.flush(main.client);
      const [want, got] = await Promise.all(
        [direct, coalesced].map((k) => main.client.zrange(k, '0', '-1', 'WITHSCORES')),
      );
      if (JSON.stringify(got) !== JSON.stringify(want))
        throw new Error(
          `seed ${seed} (${seeded ? 'from a and b' : 'from nothing'}): ${JSON.stringify(ops)} gave ${JSON.stringify(got)}, one by one ${JSON.stringify(want)}`,
        );
    }
  });

  it('refuses XX and LT of one member in one step (they do not coalesce into one command)', () => {
    const writes = new WriteSet();
    writes.sortedSet('k').add('5', 'm', 'XX');
    expect(() => writes.sortedSet('k').add('3', 'm', 'LT')).toThrow(TypeError);
  });
});
