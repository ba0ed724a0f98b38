import type { Cluster, Command, Redis } from 'ioredis';

/** What a command not answered in time fails with (the words ioredis' own timeout uses). */
export const COMMAND_TIMED_OUT = 'Command timed out';

/**
 * Fails every command `redis` sends (single commands and pipelines' alike) that is not answered
 * within `ms` — without ioredis' `commandTimeout`, which fails commands that were answered in
 * time when the process itself was stalled past the timeout (a long GC, a starved CPU): after a
 * stall Node runs due timers before it reads the sockets, so the timer fires while the reply is
 * already waiting to be read. Here a due timer first lets the event loop read what came
 * (setImmediate runs after the poll phase), and fails the command only if it is still unanswered.
 * A spurious timeout is not harmless: an auxiliary Redis that "timed out" puts its partitions'
 * badge writes in degraded mode (UserStore) for a repair interval.
 */
export function timeCommandsOut(redis: Redis | Cluster, ms: number): void {
  const send = redis.sendCommand.bind(redis) as (command: Command, ...rest: unknown[]) => unknown;
  redis.sendCommand = ((command: Command, ...rest: unknown[]) => {
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (!command.isSettled) command.reject(new Error(COMMAND_TIMED_OUT));
        }),
      ms,
    );
    const clear = () => clearTimeout(timer);
    command.promise.then(clear, clear);
    return send(command, ...rest);
  }) as typeof redis.sendCommand;
}
