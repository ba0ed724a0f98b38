import { randomBytes } from 'node:crypto';
import { recordingContext } from '../../tests/support/recording-context';
import { connectMainAndAux } from '../../tests/support/redis-state';
import { PipelineMetrics } from '../../runtime/metrics';
import type { ProcessorContext } from '../../runtime/api';
import { type RedisClient } from '../../stores/redis/connect';
import { RedisKeys } from '../../stores/redis/keys';
import { ReadModel } from '../../stores/redis/read-model';
import { UserStore } from '../../stores/redis/user-store';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { BadgeUpdater } from './badge-updater';

/**
 * The badge updater against the real main and auxiliary Redis: a processor may go on while its
 * badge writes are under way (ProcessorContext.waitFor), so the next change of the same badge
 * entry can be asked for before the first one landed — it must not overtake it.
 */
describe('BadgeUpdater (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const keys = new RedisKeys(prefix);
  let main: RedisClient;
  let aux: RedisClient;
  let badges: BadgeUpdater;

  // The dedupe marks are not written: the step never delivers (its after-send hooks never run).
  const context = (partition: number): ProcessorContext =>
    recordingContext(Date.now(), { partition }).ctx;

  beforeAll(async () => {
    ({ main, aux } = await connectMainAndAux());
    badges = new BadgeUpdater(
      new UserStore(main, aux, keys, 600, 60),
      new PipelineMetrics({ defaultMetrics: false }),
    );
  });
  afterAll(async () => {
    for (const redis of [main, aux]) {
      await deleteKeys(redis, await scanKeys(redis, keys.all()));
      redis.disconnect();
    }
  });

  it('applies one partition’s changes of a badge entry in the order they were asked for, not as their round trips end', async () => {
    // The aux mark says main lacks the source: the add must delete it (one more round trip)
    // before it writes main; the remove asked right after reads marks at once.
    await aux.set(keys.dedupeMark('c1', 'u1'), '0');
    const ctx = context(0);
    const added = badges.apply([{ op: 'add', userId: 'u1', source: 'c1', kind: 'GROUP' }], ctx);
    const removed = badges.apply(
      [{ op: 'remove', userId: 'u1', source: 'c1', kind: 'GROUP' }],
      ctx,
      ['u1'],
    );
    await Promise.all([added, removed]);
    // Last asked, last applied: the source is gone, and the count returned says so.
    expect(await new ReadModel(main, keys).badge('u1')).toEqual([]);
    expect((await removed).get('u1')).toBe(0);
  });

  it('a failed change does not stop the partition’s next ones', async () => {
    const ctx = context(1);
    const failing = {
      ...ctx,
      assertLeaseHeld: () => {
        throw new Error('lease lost');
      },
    };
    const refused = badges.apply(
      [{ op: 'add', userId: 'u2', source: 'c2', kind: 'GROUP' }],
      failing,
    );
    const next = badges.apply([{ op: 'add', userId: 'u2', source: 'c3', kind: 'GROUP' }], ctx);
    await expect(refused).rejects.toThrow('lease lost');
    await next;
    expect(await new ReadModel(main, keys).badge('u2')).toEqual(['c3']);
  });
});
