import pino from 'pino';
import { ensureTopics } from '../runtime/ensure-topics';
import { TicksHttpServer } from '../services/ticks-http-server';
import { apiClient } from './support/api-client';
import { createHarness, eventually, type Harness } from './support/harness';
import { TestSocket } from './support/ws-client';
import { startApiServer } from './support/api-server';

/** The bound of every produce request in this test (TICKS_KAFKA_SEND_TIMEOUT_MS). */
const SEND_TIMEOUT_MS = 2000;
/** What answering may take beyond the bound (scheduling, a fresh producer's connect). */
const SLACK_MS = 1500;

/**
 * Kafka taking no record, on the real broker and without stopping it: the test deletes one of
 * its own topics, which makes kafkajs retry a send for ever (the topic never comes back by
 * itself). Requests and the gateway's presence must fail within the send bound instead of
 * hanging, and recover once the topic is back.
 */
describe('Kafka outage: bounded sends', () => {
  let h: Harness;
  let server: TicksHttpServer | undefined;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    h = await createHarness({ TICKS_KAFKA_SEND_TIMEOUT_MS: String(SEND_TIMEOUT_MS) });
    // The API takes receipts from members only: the pipeline records Ana's membership, then
    // stops (it consumes the topic the first test deletes).
    h.publish.memberAdded('c-out', 'Ana', 'DIRECT').memberAdded('c-out', 'Bo', 'DIRECT');
    h.publish.messageSent('c-out', { messageId: 'o1', seq: 1, senderId: 'Bo', kind: 'DIRECT' });
    await h.publish.flush();
    await eventually('Ana a member', async () => (await h.read.unread('c-out', 'Ana')) === 1);
    await h.stopPipeline();
    server = await startApiServer(h, {
      logger: pino({ level: 'silent' }),
    });
  });

  afterAll(async () => {
    for (const s of sockets) s.ws.terminate();
    await server?.stop();
    await ensureTopics(h.kafka, h.config); // so close() finds what it deletes
    await h?.close();
  });

  /** Deletes one of the test's topics and waits until Kafka no longer has it. */
  async function deleteTopic(topic: string): Promise<void> {
    await h.kafka.withAdmin((a) => a.deleteTopics([topic]));
    await eventually(
      `${topic} deleted`,
      async () => (await h.kafka.withAdmin((a) => a.partitionCounts([topic]))).size === 0,
    );
  }

  it('POST /v1/receipts/read answers 503 with Retry-After, naming Kafka, within the bound; 202 once Kafka takes records again', async () => {
    const call = apiClient(server!.url);
    const token = server!.tokens.issue('Ana', 'ana-phone');
    const read = () =>
      call('POST', '/v1/receipts/read', { token, body: { conversation_id: 'c-out', seq: 1 } });
    expect((await read()).status).toBe(202);

    await deleteTopic(h.topics.receiptEvents);
    const started = Date.now();
    const answer = await read();
    const elapsed = Date.now() - started;
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBe('5');
    expect(answer.body).toEqual({
      error: 'unavailable',
      message: expect.stringContaining(
        `Kafka did not acknowledge the receipt event within ${SEND_TIMEOUT_MS} ms`,
      ),
    });
    expect(elapsed).toBeGreaterThanOrEqual(SEND_TIMEOUT_MS - 100);
    expect(elapsed).toBeLessThan(SEND_TIMEOUT_MS + SLACK_MS);

    await ensureTopics(h.kafka, h.config);
    await eventually('a POST accepted again', async () => (await read()).status === 202, 30_000);
  });

  it('gateway: presence during the outage fails within the bound, logged and counted, in one send per burst; stopping does not hang', async () => {
    const failed = async () =>
      (
        await server!.metrics.registry.getSingleMetric('ticks_gateway_presence_failed_total')!.get()
      ).values.reduce((sum, v) => sum + v.value, 0);
    await deleteTopic(h.topics.presence);

    const started = Date.now();
    const devices = 5;
    const url = `${server!.url.replace('http', 'ws')}/v1/updates`;
    for (let i = 0; i < devices; i++) {
      const token = server!.tokens.issue('Bo', `bo-device-${i}`);
      const socket = await TestSocket.open(`${url}?access_token=${token}`);
      sockets.push(socket);
      await socket.waitFor('hello', (m) => m.type === 'hello');
    }
    for (const s of sockets.splice(0)) await s.close();
    // ONLINE and OFFLINE of each device: all failed, in a couple of bounded sends rather than
    // one bound per record (the records queued during a failing send go in the next one).
    await eventually(
      'every presence record counted as failed',
      async () => (await failed()) === 2 * devices,
      3 * SEND_TIMEOUT_MS + SLACK_MS,
    );
    expect(Date.now() - started).toBeLessThan(3 * SEND_TIMEOUT_MS + SLACK_MS);

    // A socket still open at stop publishes its OFFLINE: bounded too.
    const token = server!.tokens.issue('Bo', 'bo-last');
    sockets.push(await TestSocket.open(`${url}?access_token=${token}`));
    await eventually(
      'ONLINE failed',
      async () => (await failed()) === 2 * devices + 1,
      2 * SEND_TIMEOUT_MS + SLACK_MS,
    );
    const stopping = Date.now();
    await server!.stop();
    server = undefined;
    expect(Date.now() - stopping).toBeLessThan(SEND_TIMEOUT_MS + 5000);
  });
});
