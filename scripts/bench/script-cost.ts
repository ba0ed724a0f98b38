import type { RedisClient } from '../../stores/redis/connect';
import { connectRedis } from '../../stores/redis/connect';
import { ConversationStore, type ReceiptInput } from '../../stores/redis/conversation-store';
import { RedisKeys } from '../../stores/redis/keys';
import { runQueued, type Queued } from '../../stores/redis/pipeline';
import { withThrowawayRedis } from './throwaway-redis';

export interface ScriptCost {
  calls: number;
  /** Redis CPU per call (INFO commandstats: EVALSHA's usec ÷ calls). */
  microsPerCall: number;
  /** Of which inside the Redis commands the script calls; the rest is Lua and call overhead. */
  microsInCommands: number;
}

const BATCH = 500;

/**
 * What ticks' own scripts cost Redis per call, one event per call (the shape of real-time
 * traffic, where a step holds about one event per conversation), on a throwaway server (no AOF),
 * so Redis' share of the limit can be read per event: the commonest events of the workload.
 */
export async function scriptCost(conversations = 2_000): Promise<Record<string, ScriptCost>> {
  return withThrowawayRedis(async (port) => {
    // The main Redis' client settings, on the throwaway server.
    const redis = await connectRedis(`redis://127.0.0.1:${port}`, 'main');
    try {
      const store = new ConversationStore(redis, new RedisKeys('cost'), 86_400);
      const ids = Array.from({ length: conversations }, (_, i) => i);
      const direct = (i: number) => `d${i}`;
      const group = (i: number) => `g${i}`;
      const members = (i: number) => Array.from({ length: 20 }, (_, k) => `g${i}u${k}`);
      await inBatches(redis, ids, (i) => [
        store.membersChanged(direct(i), [
          { op: 'add', userId: `a${i}`, kind: 'DIRECT' },
          { op: 'add', userId: `b${i}`, kind: 'DIRECT' },
        ]),
        store.membersChanged(
          group(i),
          members(i).map((userId) => ({ op: 'add' as const, userId, kind: 'GROUP' as const })),
        ),
      ]);
      const receipt = (userId: string, command: ReceiptInput['command']): ReceiptInput => ({
        userId,
        at: 5_000,
        shareRead: true,
        version: 10,
        sourceAt: 4_000,
        command,
      });
      const sent = (c: string, sender: string, kind: 'DIRECT' | 'GROUP', seq: number) =>
        store.messagesSent(c, [
          { messageId: `${c}m${seq}`, seq, senderId: sender, kind, sentAt: seq },
        ]);
      const measured: Record<string, ScriptCost> = {};
      const measure = async (name: string, calls: (i: number) => Array<Queued<unknown>>) => {
        await redis.config('RESETSTAT');
        await inBatches(redis, ids, calls);
        measured[name] = costOf(await redis.info('commandstats'));
      };
      await measure('messages-sent: a direct message', (i) => [
        sent(direct(i), `a${i}`, 'DIRECT', 1),
      ]);
      await measure('messages-sent: a group message', (i) => [
        sent(group(i), `g${i}u0`, 'GROUP', 1),
      ]);
      await measure('apply-receipts: a direct delivery', (i) => [
        store.applyReceipts(direct(i), [receipt(`b${i}`, { type: 'dlv_seq', seq: 1 })]),
      ]);
      await measure('apply-receipts: a group read', (i) => [
        store.applyReceipts(group(i), [receipt(`g${i}u1`, { type: 'read', seq: 1 })]),
      ]);
      return measured;
    } finally {
      redis.disconnect();
    }
  });
}

async function inBatches(
  redis: RedisClient,
  ids: number[],
  calls: (i: number) => Array<Queued<unknown>>,
): Promise<void> {
  for (let b = 0; b < ids.length; b += BATCH)
    await runQueued(redis, ids.slice(b, b + BATCH).flatMap(calls));
}

/** Script time per call, and the time of the commands the scripts called (all but INFO/CONFIG). */
function costOf(commandStats: string): ScriptCost {
  let calls = 0;
  let scriptMicros = 0;
  let innerMicros = 0;
  for (const m of commandStats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    const [, name, n, usec] = m;
    // ioredis sends a script's first call as EVAL (the server did not know it yet).
    if (name === 'evalsha' || name === 'eval') {
      calls += Number(n);
      scriptMicros += Number(usec);
    } else if (!/^(info|config)/.test(name!)) innerMicros += Number(usec);
  }
  return {
    calls,
    microsPerCall: calls ? scriptMicros / calls : 0,
    microsInCommands: calls ? innerMicros / calls : 0,
  };
}

if (require.main === module)
  void scriptCost().then((costs) => {
    for (const [name, c] of Object.entries(costs))
      console.log(
        `${name.padEnd(36)} ${c.microsPerCall.toFixed(1)} µs per call, ${c.microsInCommands.toFixed(1)} µs of it in Redis commands (${c.calls} calls)`,
      );
  });
