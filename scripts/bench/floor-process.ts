import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Command } from 'commander';
import { loadConfig } from '../../config/config';
import { OffsetCommitter } from '../../runtime/internals/offset-committer';
import { KafkaClient } from '../../runtime/kafka/kafka-client';
import type { InboundBatch, OutboundRecord } from '../../runtime/kafka/types';
import { topicNames } from '../../runtime/topics';
import { AvroCodec } from '../../schemas/avro-codec';
import { connectRedis } from '../../stores/redis/connect';
import { execPipeline, pipelineOf } from '../../stores/redis/pipeline';
import { defineScripts } from '../../stores/redis/script-loader';
import { floorOutputTopic, type FloorWork } from './floor-phase';

/**
 * The floor of the stack on this machine: a pipeline with none of ticks' logic that consumes
 * the run's inputs as ticks does (the same client, fetch sizes, co-partitioned group and
 * concurrency), decodes them, produces outputs, writes plain pipelined commands to the main
 * Redis and commits, in ticks' order (produce → Redis → commit, every 100 ms as ticks commits).
 * What it drains per second is what any pipeline built of these parts on this machine could
 * reach at most: the figure issue 11's targets are read against.
 */
async function runFloor(groupId: string, work: FloorWork, port: number): Promise<void> {
  const config = loadConfig(process.env);
  const topics = topicNames(config);
  const kafka = new KafkaClient({ brokers: config.kafka.brokers, clientId: `floor-${groupId}` });
  const codec = AvroCodec.connect({ url: config.registryUrl });
  await codec.registerAll(topics);
  const redis = await connectRedis(config.redis.main, 'main');
  defineScripts(redis);
  const raw = work.rawRedis ? await RawRespPipe.connect(config.redis.main.url) : undefined;
  const producer = await kafka.producer();
  const outTopic = floorOutputTopic(config.topics.prefix);
  const keyPrefix = `${config.redis.keyPrefix}:floor`;
  let events = 0;
  let outputsProduced = 0;
  /** Commands Redis answered without an error (counted from its replies). */
  let commandsApplied = 0;
  const sendCommands = async (commands: string[][]): Promise<number> => {
    if (raw) return raw.send(commands);
    if (work.asScript)
      return Number(await redis.applyWrites(commands[0]![1]!, JSON.stringify(commands)));
    return (await execPipeline(pipelineOf(redis, commands))).length;
  };
  let outputCredit = 0;
  let commandCredit = 0;

  const onBatch = async (batch: InboundBatch): Promise<void> => {
    const records = batch.records;
    if (records.length === 0) return;
    const outputs: OutboundRecord[] = [];
    const commands: string[][] = [];
    for (const record of records) {
      const value = record.value!;
      const decoded = work.decode
        ? (codec.decodeCached(value) ?? (await codec.decode(value)))
        : undefined;
      const key = record.key?.toString() ?? '';
      for (outputCredit += work.outputsPerEvent; outputCredit >= 1; outputCredit--)
        outputs.push({
          topic: outTopic,
          key,
          value: decoded ? codec.encodeNow(decoded.role, decoded.value as never) : value,
        });
      for (commandCredit += work.redisCommandsPerEvent; commandCredit >= 1; commandCredit--)
        commands.push(
          commands.length % 2 === 0
            ? ['hset', `${keyPrefix}:{c:${key}}`, `f${commands.length % 8}`, record.offset]
            : ['zadd', `${keyPrefix}:{u:${key}}`, record.offset, `${batch.partition}:${key}`],
        );
    }
    if (outputs.length > 0) await producer.send(outputs);
    outputsProduced += outputs.length;
    // Not `+= await`: that reads the total before the wait, and batches run concurrently.
    const applied = commands.length > 0 ? await sendCommands(commands) : 0;
    commandsApplied += applied;
    events += records.length;
    // Committed every 100 ms, off the batch's path, as the stream runtime commits.
    const nextOffset = String(BigInt(records[records.length - 1]!.offset) + 1n);
    committer
      .commit([{ topic: batch.topic, partition: batch.partition, nextOffset }])
      .catch(() => undefined);
  };

  const consumer = kafka.groupConsumer({
    groupId,
    topics: [topics.conversationEvents, topics.receiptEvents],
    coPartitioned: true,
    fromBeginning: true,
    // As the stream runtime (runtime/internals/stream-runtime.ts).
    partitionsConsumedConcurrently: 16,
    maxBytesPerPartition: 256 * 1024,
    onBatch,
  });
  await kafka.withAdmin((admin) =>
    admin.createMissing([
      {
        name: outTopic,
        partitions: config.topics.partitions,
        replicationFactor: config.topics.replicationFactor,
        configs: {},
      },
    ]),
  );
  const committer = new OffsetCommitter(consumer, 100);
  await consumer.start();
  const server = createServer((_req, res) =>
    res.end(
      [
        `floor_events_total ${events}`,
        `floor_outputs_total ${outputsProduced}`,
        `floor_redis_commands_applied_total ${commandsApplied}`,
        '',
      ].join('\n'),
    ),
  );
  server.listen(port, '127.0.0.1');
  process.once('SIGTERM', () => {
    server.close();
    void committer
      .idle()
      .then(() => consumer.stop())
      .then(() => producer.close())
      .finally(() => {
        redis.disconnect();
        raw?.close();
        process.exit(0);
      });
  });
}

/**
 * Commands written to a socket as RESP, their replies counted, not parsed: for commands whose
 * replies are one line each (integers, statuses, errors), as HSET and ZADD's. The floor of what
 * sending a command costs, with no client library; a single server without TLS or password only.
 */
class RawRespPipe {
  private waiting: Array<{ replies: number; done(applied: number): void }> = [];
  private lines = 0;
  private errors = 0;
  private atLineStart = true;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) {
        if (this.atLineStart && chunk[i] === 0x2d) this.errors++; // '-': an error reply
        this.atLineStart = chunk[i] === 0x0a;
        if (this.atLineStart) this.lines++;
      }
      while (this.waiting.length > 0 && this.lines >= this.waiting[0]!.replies) {
        const first = this.waiting.shift()!;
        this.lines -= first.replies;
        // Errors are charged to the oldest waiting call: the count of a run stays right.
        const errors = Math.min(this.errors, first.replies);
        this.errors -= errors;
        first.done(first.replies - errors);
      }
    });
  }

  static async connect(url: string | undefined): Promise<RawRespPipe> {
    const { hostname, port, password, protocol } = new URL(url ?? 'redis://127.0.0.1:6379');
    if (protocol !== 'redis:' || password)
      throw new Error('--raw-redis takes a plain redis:// URL of a single server');
    const socket = connect(Number(port || 6379), hostname);
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.setNoDelay(true);
    return new RawRespPipe(socket);
  }

  /** Resolves with the number of commands Redis applied (answered without an error). */
  send(commands: string[][]): Promise<number> {
    let out = '';
    for (const command of commands) {
      out += `*${command.length}\r\n`;
      for (const arg of command) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
    }
    return new Promise((done) => {
      this.waiting.push({ replies: commands.length, done });
      this.socket.write(out);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

new Command('floor-process')
  .description('The stack floor pipeline of `npm run bench -- --floor` (no ticks logic)')
  .requiredOption('--group <id>', 'consumer group')
  .option('--decode', 'decode each record (Avro)', false)
  .option('--outputs-per-event <n>', 'output records per input event', Number, 0)
  .option('--redis-commands-per-event <n>', 'main-Redis commands per input event', Number, 0)
  .option('--raw-redis', 'send them as RESP on a socket of its own (no client library)', false)
  .option(
    '--as-script',
    "send them as one apply-writes script call per batch (ticks' transport)",
    false,
  )
  .action(
    (opts: {
      group: string;
      decode: boolean;
      outputsPerEvent: number;
      redisCommandsPerEvent: number;
      rawRedis: boolean;
      asScript: boolean;
    }) =>
      runFloor(
        opts.group,
        {
          decode: opts.decode,
          outputsPerEvent: opts.outputsPerEvent,
          redisCommandsPerEvent: opts.redisCommandsPerEvent,
          rawRedis: opts.rawRedis,
          asScript: opts.asScript,
        },
        Number(process.env.TICKS_METRICS_PORT),
      ).catch((err: unknown) => {
        console.error(`floor pipeline failed: ${(err as Error).message}`);
        process.exit(1);
      }),
  )
  .parse();
