import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadConfig } from '../../config/config';
import { ensureTopics } from '../../runtime/ensure-topics';
import { KafkaClient } from '../../runtime/kafka/kafka-client';
import { topicNames } from '../../runtime/topics';
import { AvroCodec } from '../../schemas/avro-codec';
import { connectRedis } from '../../stores/redis/connect';
import { cleanUpRun, runEnv } from './bench-cleanup';
import { ChatTraffic, DEFAULT_CHAT_TRAFFIC } from './chat-traffic';
import { EventLoader } from './event-loader';
import { floorCounts, floorOutputTopic, type FloorCounts } from './floor-phase';
import { freePort, sleep } from './pipeline-process';

/**
 * The floor pipeline of `npm run bench -- --floor` (real Kafka, registry and Redis): its figures
 * are read against issue 11's targets, so it must do the work it is said to do — every input
 * consumed and committed, the outputs produced, the Redis commands applied — by each transport.
 */
describe('the stack floor pipeline (real servers)', () => {
  const id = `t${randomBytes(3).toString('hex')}`;
  const env = runEnv(id, 2, 'error');
  const config = loadConfig({ ...process.env, ...env });
  const topics = topicNames(config);
  const kafka = new KafkaClient({ brokers: config.kafka.brokers, clientId: `floor-test-${id}` });
  const events = 400;
  let total = 0;

  beforeAll(async () => {
    await ensureTopics(kafka, config);
    const codec = AvroCodec.connect({ url: config.registryUrl });
    await codec.registerAll(topics);
    const producer = await kafka.producer();
    const traffic = new ChatTraffic({
      ...DEFAULT_CHAT_TRAFFIC,
      users: 200,
      directChats: 100,
      groups: 5,
      groupSize: 5,
      runId: `${id}-`,
    });
    const loader = new EventLoader(producer, codec, topics);
    for (const e of traffic.setUp(Date.now())) if (e.role !== 'userSettings') await loader.add(e);
    for (let i = 0; i < events; i++) await loader.add(traffic.next(Date.now()));
    await loader.flush();
    await producer.close();
    total = loader.produced;
  }, 120_000);

  afterAll(async () => {
    await cleanUpRun(id, config);
  }, 60_000);

  /** Runs floor-process.ts until it has consumed every input; its counters. */
  async function drainWith(args: string[]): Promise<FloorCounts> {
    const port = await freePort();
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'floor-process.ts'), ...args],
      {
        env: { ...process.env, ...env, TICKS_METRICS_PORT: String(port) },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const counts = await fetch(`http://127.0.0.1:${port}/metrics`)
          .then(async (res) => floorCounts(await res.text()))
          .catch(() => undefined);
        if (counts && counts.events >= total) return counts;
        if (Date.now() > deadline) throw new Error(`the floor consumed ${counts?.events ?? 0}`);
        await sleep(200);
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }

  const outputEnds = () =>
    kafka.withAdmin(async (admin) =>
      [...(await admin.endOffsets(floorOutputTopic(config.topics.prefix))).values()].reduce(
        (sum, offset) => sum + Number(offset),
        0,
      ),
    );

  it.each([
    ['an ioredis pipeline', []],
    ['one apply-writes script call per batch', ['--as-script']],
    ['RESP on a socket of its own', ['--raw-redis']],
  ])(
    'consumes every input, produces a quarter of them again and applies 4 Redis commands per event, by %s',
    async (_transport, transportArgs) => {
      const group = `${config.kafka.groupId}-floor-${randomBytes(3).toString('hex')}`;
      const before = await outputEnds().catch(() => 0);
      const redis = await connectRedis(config.redis.main, 'main');
      const floorKeys = () => redis.keys(`${config.redis.keyPrefix}:floor:*`);
      const stale = await floorKeys();
      if (stale.length > 0) await redis.del(...stale);
      const counts = await drainWith([
        '--group',
        group,
        '--decode',
        '--outputs-per-event',
        '0.25',
        '--redis-commands-per-event',
        '4',
        ...transportArgs,
      ]);
      expect(counts.events).toBe(total);
      expect(counts.outputs).toBe(Math.floor(total / 4));
      expect(counts.redisCommandsApplied).toBe(total * 4);
      expect((await outputEnds()) - before).toBe(counts.outputs);
      // Committed as well: the group has nothing left to read.
      await kafka.withAdmin(async (admin) => {
        for (let i = 0; ; i++) {
          const lag = await admin.groupLag(group, [
            topics.conversationEvents,
            topics.receiptEvents,
          ]);
          if (lag === 0) return;
          if (i > 50) throw new Error(`the floor's group still lags by ${lag}`);
          await sleep(100);
        }
      });
      // And written: the inputs' conversation hashes and sorted sets are there.
      try {
        const keys = await floorKeys();
        expect(keys.some((k) => k.includes(':{c:'))).toBe(true);
        expect(keys.some((k) => k.includes(':{u:'))).toBe(true);
      } finally {
        redis.disconnect();
      }
    },
    90_000,
  );
});
