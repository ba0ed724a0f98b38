import type { Command } from 'ioredis';
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

/**
 * Records the commands the stores send to `redis` (`sendCommand`: single commands and each of a
 * pipeline's), name and arguments, in order; jest.restoreAllMocks() ends it. Left out: a script's
 * own commands (they run in Redis), and the WAIT for a replica that ends a pipeline on a Redis
 * Cluster (pipeline.ts).
 */
export function recordCommands(redis: RedisClient): Array<[name: string, ...args: string[]]> {
  const sent: Array<[string, ...string[]]> = [];
  const client = redis as unknown as { sendCommand(command: Command, ...rest: unknown[]): unknown };
  const send = client.sendCommand.bind(client);
  jest.spyOn(client, 'sendCommand').mockImplementation((command, ...rest) => {
    if (command.name !== 'wait') sent.push([command.name, ...command.args.map(String)]);
    return send(command, ...rest);
  });
  return sent;
}
