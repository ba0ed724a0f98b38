import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { RedisClient } from './connect';
import { loadConfig } from '../../config/config';
import { freePort } from '../../scripts/bench/pipeline-process';
import { eventually, deleteKeys, scanKeys } from '../../tests/support/harness';
import { DedupeMarkCache } from '../state/dedupe-mark-cache';
import { connectOptionalRedis, connectRedis } from './connect';
import { RedisKeys } from './keys';
import { ReadModel } from './read-model';
import { BADGE_SCORE, badgeMember } from './badge-entries';
import { UserStore, type BadgeChange } from './user-store';

/**
 * The badge path when the auxiliary Redis fails, against real servers: the shared main Redis and
 * a private auxiliary redis-server of this test's own, frozen (SIGSTOP: connections stay, nothing
 * answers) and resumed with its data. Badges go to main without dedupe meanwhile; the marks that
 * may then lie are listed in main and deleted from aux before any aux mark is trusted again,
 * also by a process that restarted in between.
 */
describe('UserStore during an auxiliary Redis outage (private redis-server)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const keys = new RedisKeys(prefix);
  const partition = 3;
  let server: ChildProcess;
  let main: RedisClient;
  let aux: RedisClient;
  const add: BadgeChange = { op: 'add', userId: 'u1', source: 'A', kind: 'DIRECT' };
  const remove: BadgeChange = { ...add, op: 'remove' };
  const markKey = keys.dedupeMark('A', 'u1');
  const inBadge = async () => (await new ReadModel(main, keys).badge('u1')).includes('A');
  /** A process's memory of marks, as after a start (nothing known). */
  const freshMemory = () => new DedupeMarkCache(1_000, 60_000).of(partition);

  beforeAll(async () => {
    const port = await freePort();
    server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    main = await connectRedis(loadConfig().redis.main, 'main');
    aux = await eventually(
      'the private aux redis-server',
      () => connectRedis(`redis://127.0.0.1:${port}`, 'auxiliary', { commandTimeoutMs: 300 }),
      10_000,
    );
  });
  afterAll(async () => {
    server.kill('SIGCONT');
    server.kill('SIGKILL');
    aux?.disconnect();
    const found = await scanKeys(main, keys.all());
    await deleteKeys(main, found);
    main.disconnect();
  });

  it('writes main unguarded while aux hangs, and trusts no stale mark after it answers again', async () => {
    const before = new UserStore(main, aux, keys, 600, 60);
    await before.applyBadgeChanges([add], { memory: freshMemory(), partition });
    expect(await aux.get(markKey)).toBe('1');

    server.kill('SIGSTOP');
    const during = await before.applyBadgeChanges([remove], { memory: freshMemory(), partition });
    expect(during).toMatchObject({ aux: 'failed', misses: 1 });
    expect(await inBadge()).toBe(false);
    expect(await main.smembers(keys.untrustedMarks(partition))).toEqual([markKey]);

    server.kill('SIGCONT');
    expect(await aux.get(markKey)).toBe('1'); // the mark now lies: main lacks the source

    // A process started meanwhile knows nothing in memory: it finds the list in main.
    const after = new UserStore(main, aux, keys, 600, 60);
    const recovered = new Promise<number>((resolve) => (after.onRecovered = resolve));
    const memory = freshMemory();
    const again = await after.applyBadgeChanges([add], { memory, partition });
    expect(again).toMatchObject({ aux: 'degraded', auxHits: 0, misses: 1 });
    expect(await inBadge()).toBe(true); // written, although the aux mark said it was there

    expect(await recovered).toBe(partition);
    expect(await main.exists(keys.untrustedMarks(partition))).toBe(0);
    expect(await aux.exists(markKey)).toBe(0); // the lying mark was deleted
    expect(memory.untrusted()).toBe(false);
    // Dedupe is back: the next change reads aux and writes its mark.
    const next = await after.applyBadgeChanges([remove], { memory: freshMemory(), partition });
    expect(next).toMatchObject({ aux: 'ok', misses: 1 });
    expect(await aux.get(markKey)).toBe('0');
  });

  it('counts the real badge changes of writes made without dedupe', async () => {
    const store = new UserStore(main, aux, keys, 600, 60);
    await main.zadd(
      keys.userConversations('u3'),
      ...[badgeMember('A'), badgeMember('B')].flatMap((m) => [BADGE_SCORE, m]),
    );
    server.kill('SIGSTOP');
    try {
      const stats = await store.applyBadgeChanges(
        [
          { op: 'remove', userId: 'u3', source: 'A', kind: 'DIRECT' }, // there: a change
          { op: 'add', userId: 'u3', source: 'B', kind: 'DIRECT' }, // there already: none
        ],
        { memory: freshMemory(), partition: partition + 1 },
      );
      // The replies of the badge writes come after the one listing the untrusted marks.
      expect(stats).toMatchObject({ aux: 'failed', misses: 2, changed: { add: 0, remove: 1 } });
    } finally {
      server.kill('SIGCONT');
    }
  });

  it('starts without an aux that does not answer, and uses it once it does', async () => {
    const port = await freePort();
    const unavailable: string[] = [];
    const late = await connectOptionalRedis(`redis://127.0.0.1:${port}`, 'auxiliary', {
      timeoutMs: 300,
      commandTimeoutMs: 300,
      onUnavailable: (err) => unavailable.push(err.message),
    });
    try {
      expect(unavailable[0]).toMatch(/auxiliary Redis not reachable/);
      await expect(late.ping()).rejects.toThrow();
      const started = spawn(
        'redis-server',
        ['--port', String(port), '--save', '', '--appendonly', 'no'],
        { stdio: 'ignore' },
      );
      try {
        await eventually(
          'the late aux answers',
          () => late.ping().then((r) => r === 'PONG'),
          15_000,
        );
      } finally {
        started.kill('SIGKILL');
      }
    } finally {
      late.disconnect();
    }
  });
});
