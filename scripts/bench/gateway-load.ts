import { toPushMessage } from '../../gateway/push-message';
import type { EventPublisher } from '../../runtime/event-publisher';
import { BenchClient } from './bench-client';
import { ClientThread } from './client-thread';
import { percentiles, type Percentiles } from './latency-probe';
import { sleep } from './pipeline-process';
import { MetricsSnapshot } from './prometheus-text';
import { pausesBetween, type ProcessPauses } from './process-pauses';
import { groupSummaryUpdate, statusUpdate } from './push-records';

export interface GatewayLoadOptions {
  /** ws://host:port/v1/updates */
  url: string;
  runId: string;
  connections: number;
  devicesPerUser: number;
  /** Socket frames offered per second: records per second × devices per user. */
  pushRate: number;
  pushSeconds: number;
  /**
   * Pushes at the same rate before the timed run, timed apart: the gateway's and the clients'
   * first pushes (code paths compiled, the first fetches) are not its steady state.
   */
  warmupSeconds: number;
  /** Clients that stop reading (pause) while their users get updates. */
  slowClients: number;
  /** Bytes offered to each slow client at most (the flood ends sooner once all are dropped). */
  slowBytesPerClient: number;
  /** The gateway's bound on a socket's unsent bytes (TICKS_GATEWAY_MAX_BUFFERED_BYTES). */
  maxBufferedBytes: number;
  token(userId: string, deviceId: string): string;
  publisher(): EventPublisher;
  /** RSS of the gateway process now. */
  gatewayRss(): number;
  gatewayMetrics(): Promise<MetricsSnapshot>;
}

export interface GatewayFigures {
  connections: number;
  users: number;
  devicesPerUser: number;
  connectSeconds: number;
  memory: {
    rssBefore: number;
    rssAfter: number;
    bytesPerConnection: number;
    heapPerConnection: number;
  };
  pushes: {
    records: number;
    offeredPerSecond: number;
    delivered: number;
    expected: number;
    seconds: number;
    deliveredPerSecond: number;
    /** receipt_updates record produced → frame read by the client, ms. */
    latency: Percentiles;
    /** The same for the warm-up's pushes (before the timed run). */
    warmup: { seconds: number; latency: Percentiles };
    /** The gateway's process during the timed pushes: what stops its event loop. */
    gateway: ProcessPauses;
  };
  slow: SlowConsumerFigures;
}

export interface SlowConsumerFigures {
  clients: number;
  frameBytes: number;
  offeredBytesPerClient: number;
  /** Slow sockets the gateway dropped (send buffer full), by its counter. */
  dropped: number;
  /** Paused clients that found their connection closed once they read again. */
  closedByGateway: number;
  /** The reading device of each slow user got every update meanwhile. */
  readingDevicesServed: boolean;
  rssBefore: number;
  rssPeak: number;
  /** What the gateway may hold for them: clients × TICKS_GATEWAY_MAX_BUFFERED_BYTES. */
  boundBytes: number;
}

/**
 * The push gateway under many connections (several devices per user): how fast they open and
 * what each costs in memory, pushes delivered per second at an offered rate with the time from
 * the receipt_updates record to the socket, and what clients that stop reading cost.
 */
export async function loadGateway(o: GatewayLoadOptions): Promise<GatewayFigures> {
  const users = Math.ceil(o.connections / o.devicesPerUser);

  // ---- connections ----------------------------------------------------------------------------
  await sleep(1000);
  const rssBefore = o.gatewayRss();
  const heapBefore = (await o.gatewayMetrics()).total('ticks_nodejs_heap_size_used_bytes');
  const connectStart = Date.now();
  const urls = Array.from(
    { length: o.connections },
    (_, i) =>
      `${o.url}?access_token=${o.token(`gw${o.runId}-u${i % users}`, `d${Math.floor(i / users)}`)}`,
  );
  const clients = await ClientThread.open(urls, 100);
  const connectSeconds = (Date.now() - connectStart) / 1000;
  await sleep(2000);
  const rssAfter = o.gatewayRss();
  const heapAfter = (await o.gatewayMetrics()).total('ticks_nodejs_heap_size_used_bytes');

  // ---- pushes at an offered rate: a warm-up, then the timed run -------------------------------
  const recordRate = o.pushRate / o.devicesPerUser;
  // The last users may hold one device fewer (connections not a multiple of the devices).
  const devicesOf = (u: number) => Math.floor((o.connections - 1 - u) / users) + 1;
  const offer = async (name: string, seconds: number) => {
    const phase = `${o.runId}-${name}-`;
    await clients.time(phase);
    const start = Date.now();
    let records = 0;
    while (Date.now() - start < seconds * 1000) {
      const due = Math.floor(((Date.now() - start) / 1000) * recordRate) - records;
      const publisher = o.publisher();
      for (let i = 0; i < due; i++, records++) {
        const userId = `gw${o.runId}-u${records % users}`;
        publisher.encoded(
          'receiptUpdates',
          userId,
          statusUpdate(`${phase}${records}`, userId, records),
        );
      }
      await publisher.flush();
      await sleep(10);
    }
    let expected = 0;
    for (let n = 0; n < records; n++) expected += devicesOf(n % users);
    let lastArrival = Date.now();
    let delivered: number;
    for (let seen = -1; ;) {
      delivered = await clients.frames();
      if (delivered >= expected || (delivered === seen && Date.now() - lastArrival >= 5000)) break;
      if (delivered !== seen) lastArrival = Date.now();
      seen = delivered;
      await sleep(100);
    }
    const latency = percentiles(await clients.latencies());
    return { records, expected, delivered, seconds: (lastArrival - start) / 1000, latency };
  };
  const warmup = o.warmupSeconds > 0 ? await offer('warmup', o.warmupSeconds) : undefined;
  // Read just before the run: prom-client's lag sampler starts again at each read.
  const before = await o.gatewayMetrics();
  const run = await offer('push', o.pushSeconds);
  const after = await o.gatewayMetrics();
  const pushes = {
    records: run.records,
    offeredPerSecond: o.pushRate,
    delivered: run.delivered,
    expected: run.expected,
    seconds: run.seconds,
    deliveredPerSecond: run.delivered / run.seconds,
    latency: run.latency,
    warmup: { seconds: o.warmupSeconds, latency: warmup?.latency ?? percentiles([]) },
    gateway: pausesBetween(before, after),
  };

  const slow = await slowConsumers(o);
  await clients.close();
  return {
    connections: urls.length,
    users,
    devicesPerUser: o.devicesPerUser,
    connectSeconds,
    memory: {
      rssBefore,
      rssAfter,
      bytesPerConnection: (rssAfter - rssBefore) / urls.length,
      heapPerConnection: (heapAfter - heapBefore) / urls.length,
    },
    pushes,
    slow,
  };
}

/**
 * Slow consumers: users each with up to ten devices that stop reading and one that reads. Their
 * updates are large (a group sender summary of 100 messages) and keep coming until every paused
 * socket is dropped or `slowBytesPerClient` was offered to each; the gateway's RSS is sampled
 * meanwhile. Back-pressure holds when the paused sockets are dropped, the reading devices get
 * everything, and the RSS grows by at most the bound.
 */
async function slowConsumers(o: GatewayLoadOptions): Promise<SlowConsumerFigures> {
  const onFrame = () => undefined; // counted (BenchClient.received), not timed
  const perUser = 10;
  const slowUsers = Math.ceil(o.slowClients / perUser);
  const paused: BenchClient[] = [];
  const reading: BenchClient[] = [];
  for (let u = 0; u < slowUsers; u++) {
    const userId = `gw${o.runId}-slow${u}`;
    const devices = Math.min(perUser, o.slowClients - u * perUser);
    for (let d = 0; d < devices; d++) {
      const client = await BenchClient.open(
        `${o.url}?access_token=${o.token(userId, `paused${d}`)}`,
        onFrame,
      );
      client.ws.pause();
      paused.push(client);
    }
    reading.push(
      await BenchClient.open(`${o.url}?access_token=${o.token(userId, 'reading')}`, onFrame),
    );
  }
  const droppedBefore = (await o.gatewayMetrics()).total('ticks_gateway_pushes_total', {
    outcome: 'dropped',
  });
  const sample = groupSummaryUpdate(`${o.runId}-slow-probe`, 'x', 0);
  const frameBytes = Buffer.byteLength(JSON.stringify(toPushMessage(sample)));
  const recordsPerUser = Math.ceil(o.slowBytesPerClient / frameBytes);
  await sleep(1000);
  const rssBefore = o.gatewayRss();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, o.gatewayRss())), 100);
  let dropped = 0;
  let sent = 0;
  try {
    for (; sent < recordsPerUser && dropped < paused.length;) {
      const publisher = o.publisher();
      for (let i = 0; i < 50 && sent < recordsPerUser; i++, sent++)
        for (let u = 0; u < slowUsers; u++)
          publisher.encoded(
            'receiptUpdates',
            `gw${o.runId}-slow${u}`,
            groupSummaryUpdate(`${o.runId}-slow-${sent}`, `gw${o.runId}-slow${u}`, sent),
          );
      await publisher.flush();
      dropped =
        (await o.gatewayMetrics()).total('ticks_gateway_pushes_total', { outcome: 'dropped' }) -
        droppedBefore;
    }
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && reading.some((c) => c.received - 1 < sent)) await sleep(100);
    await sleep(500);
    dropped =
      (await o.gatewayMetrics()).total('ticks_gateway_pushes_total', { outcome: 'dropped' }) -
      droppedBefore;
  } finally {
    clearInterval(sampler);
  }
  const readingDevicesServed = reading.every((c) => c.received - 1 === sent);
  // Resumed, a dropped socket reads what was in flight, then its end.
  for (const c of paused) c.ws.resume();
  const closedBy = Date.now() + 10_000;
  while (Date.now() < closedBy && paused.some((c) => !c.closed)) await sleep(100);
  const closedByGateway = paused.filter((c) => c.closed).length;
  await Promise.all([...paused, ...reading].map((c) => c.close()));
  return {
    clients: paused.length,
    frameBytes,
    offeredBytesPerClient: sent * frameBytes,
    dropped,
    closedByGateway,
    readingDevicesServed,
    rssBefore,
    rssPeak,
    boundBytes: paused.length * o.maxBufferedBytes,
  };
}
