import { isCluster, type RedisClient } from '../../stores/redis/connect';
import { SplitPipeline } from '../../stores/redis/pipeline';

/**
 * Spies on the pipelines the stores send to `redis`, for tests that count round trips: one per
 * pipelineOf batch, on a Redis Cluster too (where a batch goes to each node it touches at once:
 * one round trip in time, however many nodes).
 */
export function spyOnPipelines(redis: RedisClient): jest.SpyInstance {
  return isCluster(redis)
    ? jest.spyOn(SplitPipeline.prototype, 'exec')
    : jest.spyOn(redis, 'pipeline');
}
