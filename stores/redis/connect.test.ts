import { connectRedis, RedisUnavailableError } from './connect';

describe('connectRedis', () => {
  it('names the Redis and the variable when it cannot connect, without the URL password', async () => {
    const error = (await connectRedis('redis://:hunter2@127.0.0.1:1', 'main', {
      timeoutMs: 500,
    }).then(
      () => new Error('connected to a closed port'),
      (err: unknown) => err,
    )) as Error;
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect(error.message).toMatch(/main Redis not reachable at redis:\/\/\*\*\*@127\.0\.0\.1:1/);
    expect(error.message).toMatch(/TICKS_REDIS_URL/);
    expect(error.message).not.toContain('hunter2');
  });

  it('names the cluster, its seeds and its variables when no seed answers, without the password', async () => {
    const error = (await connectRedis(
      { url: 'rediss://ticks:hunter2@127.0.0.1:1', cluster: true, seeds: ['127.0.0.1:2'] },
      'auxiliary',
      { timeoutMs: 500 },
    ).then(
      () => new Error('connected to closed ports'),
      (err: unknown) => err,
    )) as Error;
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect(error.message).toMatch(
      /auxiliary Redis Cluster not reachable at rediss:\/\/\*\*\*@127\.0\.0\.1:1 \(seeds 127\.0\.0\.1:2\)/,
    );
    expect(error.message).toMatch(/--redis-cluster/);
    expect(error.message).toMatch(/TICKS_AUX_REDIS_CLUSTER_SEEDS/);
    expect(error.message).not.toContain('hunter2');
  }, 30_000);
});
