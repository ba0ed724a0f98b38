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
});
