import { loadConfig } from '../../config/config';
import { deleteKeys, scanKeys } from './keyspace';
import { connectRedis, type RedisClient } from './connect';
import { execPipeline, pipelineOf, RedisCommandError } from './pipeline';

const PREFIX = 'test-turn-pipeline';

/** Counts the writes to the client's socket from now on. */
function countWrites(redis: RedisClient): () => number {
  const socket = (redis as unknown as { stream: { write: (...a: unknown[]) => boolean } }).stream;
  const spy = jest.spyOn(socket, 'write');
  return () => spy.mock.calls.length;
}

/** Three pipelines sent in one turn: a SET, a read of it, and one whose command fails. */
function threePipelines(redis: RedisClient, key: string) {
  const set = pipelineOf(redis).set(key, '1');
  const get = pipelineOf(redis).get(key).incr(`${key}:n`);
  const failing = pipelineOf(redis).hset(key, 'f', 'v'); // a string: WRONGTYPE
  return Promise.allSettled([execPipeline(set), execPipeline(get), execPipeline(failing)]);
}

describe('pipelines of one turn (a single Redis, pipelinesPerTurn)', () => {
  let perTurn: RedisClient;
  let plain: RedisClient;
  beforeAll(async () => {
    const { main } = loadConfig().redis;
    perTurn = await connectRedis(main, 'main', { pipelinesPerTurn: true });
    plain = await connectRedis(main, 'main');
  });
  afterAll(async () => {
    await deleteKeys(plain, await scanKeys(plain, `${PREFIX}:*`));
    perTurn.disconnect();
    plain.disconnect();
  });
  afterEach(() => jest.restoreAllMocks());

  it('go out in one write, each with its own replies, in the order sent; a failing command fails only its own', async () => {
    const writes = countWrites(perTurn);
    const [set, get, failing] = await threePipelines(perTurn, `${PREFIX}:a`);
    expect(writes()).toBe(1);
    expect(set).toEqual({ status: 'fulfilled', value: ['OK'] });
    expect(get).toEqual({ status: 'fulfilled', value: ['1', 1] });
    expect(failing.status).toBe('rejected');
    expect((failing as PromiseRejectedResult).reason).toBeInstanceOf(RedisCommandError);
  });

  it('a client without it writes each pipeline at once (what the option saves)', async () => {
    const writes = countWrites(plain);
    const [set, get] = await threePipelines(plain, `${PREFIX}:b`);
    expect(writes()).toBe(3);
    expect(set).toEqual({ status: 'fulfilled', value: ['OK'] });
    expect(get).toEqual({ status: 'fulfilled', value: ['1', 1] });
  });

  it('a pipeline sent in a later turn goes in a write of its own, after the earlier ones', async () => {
    const writes = countWrites(perTurn);
    const first = execPipeline(pipelineOf(perTurn).set(`${PREFIX}:c`, 'x'));
    await new Promise((resolve) => setImmediate(resolve));
    const second = execPipeline(pipelineOf(perTurn).append(`${PREFIX}:c`, 'y'));
    await expect(Promise.all([first, second])).resolves.toEqual([['OK'], [2]]);
    expect(writes()).toBe(2);
  });

  it('fails every pipeline of the turn when the connection is gone', async () => {
    const { main } = loadConfig().redis;
    const closed = await connectRedis(main, 'main', { pipelinesPerTurn: true });
    closed.disconnect();
    const a = execPipeline(pipelineOf(closed).get(`${PREFIX}:d`));
    const b = execPipeline(pipelineOf(closed).get(`${PREFIX}:e`));
    await expect(a).rejects.toThrow();
    await expect(b).rejects.toThrow();
  });
});
