import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { WebSocket } from '@fastify/websocket';
import type { AvroCodec } from '../schemas/avro-codec';
import type { Presence, PresenceStatus } from '../schemas/types';
import { AuthError } from '../auth/auth-error';
import { authenticate, principalOf } from '../auth/authenticate';
import type { Principal, TokenService } from '../auth/token-service';
import type { EventPublisher } from '../runtime/event-publisher';
import type { KafkaClient } from '../runtime/kafka/kafka-client';
import type { ConsumerStatus, GroupConsumer, InboundBatch } from '../runtime/kafka/types';
import { ConnectionRegistry, type Connection } from './connection-registry';
import type { GatewayMetrics } from './gateway-metrics';
import { RenewalSchedule } from './renewal-schedule';
import { skipsDevice, toPushMessage, type PushMessage } from './push-message';

/** Close code of a connection without a valid principal (4000 + HTTP 401, the usual mapping). */
export const CLOSE_UNAUTHENTICATED = 4401;
/** Close code of a connection beyond the user's limit (as HTTP's 429). */
export const CLOSE_TOO_MANY_CONNECTIONS = 4429;
/** Close reason when the token a connection was opened with expires: reconnect with a new one. */
export const TOKEN_EXPIRED_REASON = 'token expired';

export interface PushGatewayOptions {
  kafka: KafkaClient;
  codec: AvroCodec;
  /** The receipt_updates topic. */
  topic: string;
  /** A publisher for presence records (one per use: its queue is the caller's own). */
  publisher(): EventPublisher;
  tokens: TokenService;
  metrics: GatewayMetrics;
  logger: Logger;
  maxBufferedBytes: number;
  /**
   * Consumer group of this instance. Each instance has its own (a user may be connected to any
   * instance, so every instance reads every update); it starts at the end of the topic and
   * commits nothing, keeping its place in memory across its rejoins — what a user missed while
   * not connected comes as an offline batch, and the query API is there to resync.
   */
  groupId?: string;
  /** WebSocket path. */
  path?: string;
  /**
   * How long a device this gateway announces ONLINE counts as online without a renewal: the
   * gateway renews every connected device every third of it, so if it dies its devices go
   * offline (the batcher keeps their updates) within one lease.
   */
  presenceLeaseMs: number;
  /** Open connections one user may hold here; one more is closed at once (4429). */
  maxConnectionsPerUser: number;
}

/**
 * Reference push gateway: consumes receipt_updates and pushes each update as JSON to the open
 * WebSocket connections of the user it is for (several devices per user), authenticated with
 * the API's bearer tokens; publishes presence as devices connect and disconnect, which the
 * offline batcher follows.
 */
/** What the gateway fetches of a receipt_updates partition at most at once (see start). */
export const GATEWAY_FETCH_BYTES_PER_PARTITION = 64 * 1024;

/** In the presence queue: a renewal of the devices of one slice connected when it is sent. */
interface Renewal {
  renewalOf: number;
}

export class PushGateway {
  readonly registry: ConnectionRegistry;
  readonly groupId: string;
  readonly path: string;
  private consumer: GroupConsumer | undefined;
  /** Presence records not sent yet, in the order they happened. */
  private presenceQueue: Array<Presence | Renewal> = [];
  /** The send of queued presence records under way, if any. */
  private presenceSending: Promise<void> | undefined;
  private assigned!: () => void;
  private readonly assignment = new Promise<void>((resolve) => (this.assigned = resolve));
  private closing = false;
  private renewal: NodeJS.Timeout | undefined;
  private readonly renewals: RenewalSchedule;

  constructor(private readonly options: PushGatewayOptions) {
    this.registry = new ConnectionRegistry(options.maxBufferedBytes);
    this.groupId = options.groupId ?? `ticks-gateway-${randomUUID()}`;
    this.path = options.path ?? '/v1/updates';
    this.renewals = new RenewalSchedule(options.presenceLeaseMs);
  }

  /** Starts consuming; resolves once this instance has its partitions (it then misses nothing). */
  async start(timeoutMs = 60_000): Promise<void> {
    this.consumer = this.options.kafka.groupConsumer({
      groupId: this.groupId,
      topics: [this.options.topic],
      coPartitioned: false,
      fromBeginning: false,
      // It commits nothing: rejoining its group (a heartbeat late under load) must not move it
      // to the end of the topic past updates its connected devices have not been pushed yet.
      keepsPlace: true,
      // A record waits for every record fetched before it to be pushed: fetches of 1 MiB a
      // partition (thousands of updates) put hundreds of ms between record and socket at tens
      // of thousands of pushes a second. Small fetches keep that short; one fetch asks every
      // partition, so throughput stays.
      maxBytesPerPartition: GATEWAY_FETCH_BYTES_PER_PARTITION,
      onBatch: (batch) => this.push(batch),
      onAssignment: () => this.assigned(),
    });
    await this.consumer.start();
    this.renewal = setInterval(() => this.renewPresence(), this.renewals.tickMs);
    this.renewal.unref();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.assignment,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(`gateway got no partitions of ${this.options.topic} in ${timeoutMs} ms`),
            ),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Where this instance's consumer of receipt_updates is (liveness and readiness). */
  consumerStatus(): ConsumerStatus {
    return this.consumer?.status() ?? { state: 'stopped' };
  }

  /** The WebSocket route, on an app that registered @fastify/websocket. */
  async routes(app: FastifyInstance): Promise<void> {
    app.get(
      this.path,
      {
        websocket: true,
        onRequest: this.authenticateUpgrade(),
        schema: {
          summary: 'WebSocket: receipt updates for the caller, pushed as JSON text frames',
          tags: ['gateway'],
          security: [{ bearerAuth: [] }],
          querystring: {
            type: 'object',
            properties: {
              access_token: { type: 'string', description: 'Bearer token (browsers)' },
              device: {
                type: 'string',
                maxLength: 200,
                description: 'Device id if the token has none',
              },
            },
          },
        },
      },
      (socket: WebSocket, request) => {
        const principal = this.principalOrClose(socket, request);
        if (!principal) return;
        const { userId, deviceId, expiresAt } = principal;
        const asked = (request.query as { device?: string }).device;
        const device = deviceId ?? asked ?? `ws-${randomUUID().slice(0, 8)}`;
        this.open(socket, userId, device, expiresAt);
      },
    );
  }

  /**
   * Authenticates the upgrade request: without a valid token the upgrade is refused with a 401
   * and the same {error, message} body as the query API's, whatever server the route is in.
   */
  private authenticateUpgrade() {
    const check = authenticate(this.options.tokens, { allowQueryToken: true });
    return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> => {
      try {
        await check(request, reply);
      } catch (err) {
        if (!(err instanceof AuthError)) throw err;
        // Returning the reply ends the request here (Fastify's early answer from an async hook).
        return reply.code(401).send({ error: 'unauthorized', message: err.message });
      }
    };
  }

  /** The caller of an upgraded connection; a connection without one is closed with 4401. */
  private principalOrClose(socket: WebSocket, request: FastifyRequest): Principal | undefined {
    try {
      return principalOf(request);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      socket.close(CLOSE_UNAUTHENTICATED, err.message.slice(0, 120));
      return undefined;
    }
  }

  /** Closes every connection (each device goes OFFLINE), then stops consuming. */
  async stop(): Promise<void> {
    this.closing = true;
    clearInterval(this.renewal);
    for (const c of this.registry.all()) c.socket.close(1001, 'gateway stopping');
    for (const c of this.registry.all()) this.closed(c);
    while (this.presenceSending) await this.presenceSending;
    await this.consumer?.stop();
    this.consumer = undefined;
    await this.options.kafka
      .withAdmin((admin) => admin.deleteGroup(this.groupId))
      .catch(() => undefined);
  }

  private open(socket: WebSocket, userId: string, deviceId: string, expiresAt: number): void {
    if (this.closing) {
      socket.close(1001, 'gateway stopping');
      return;
    }
    const held = this.registry.connectionsOf(userId).length;
    if (held >= this.options.maxConnectionsPerUser) {
      // One user cannot hold the gateway's memory and fan-out: a client that leaks sockets meets this.
      socket.close(
        CLOSE_TOO_MANY_CONNECTIONS,
        `too many connections (${held}; TICKS_GATEWAY_MAX_CONNECTIONS_PER_USER)`,
      );
      return;
    }
    const { connection, firstOfDevice } = this.registry.add(userId, deviceId, socket);
    this.options.metrics.connections.set(this.registry.size);
    // A connection is authenticated for as long as its token: not a day longer than the API.
    const expiry = setTimeout(
      () => socket.close(CLOSE_UNAUTHENTICATED, TOKEN_EXPIRED_REASON),
      Math.max(0, expiresAt - Date.now()),
    );
    socket.on('close', () => {
      clearTimeout(expiry);
      this.closed(connection);
    });
    socket.on('error', (err) => this.options.logger.debug({ err, userId }, 'websocket error'));
    // Clients send nothing but pings; anything else is ignored.
    const hello: PushMessage = { type: 'hello', user_id: userId, device_id: deviceId };
    socket.send(JSON.stringify(hello));
    if (firstOfDevice) this.presence(userId, deviceId, 'ONLINE');
  }

  private closed(connection: Connection): void {
    const { removed, lastOfDevice } = this.registry.remove(connection);
    if (!removed) return;
    this.options.metrics.connections.set(this.registry.size);
    if (lastOfDevice) this.presence(connection.userId, connection.deviceId, 'OFFLINE');
  }

  private presenceValue(userId: string, deviceId: string, status: PresenceStatus): Presence {
    const lease = status === 'ONLINE' ? this.options.presenceLeaseMs : null;
    return { user_id: userId, device_id: deviceId, status, at: Date.now(), lease_ms: lease };
  }

  /**
   * Renews the leases of this tick's slice of the devices connected here (RenewalSchedule: every
   * device once per third of the lease), in the presence order: the devices are those connected
   * when the renewal is sent, so a device that closed before is not renewed (its OFFLINE went out
   * before), and one that closes after has its OFFLINE after the renewal.
   */
  private renewPresence(): void {
    this.presenceQueue.push({ renewalOf: this.renewals.nextSlice() });
    this.sendPresence();
  }

  /**
   * Presence records go out in order (a device's ONLINE before its OFFLINE), those queued meanwhile
   * together in one send. Each send is bounded (TICKS_KAFKA_SEND_TIMEOUT_MS): during a Kafka
   * outage a burst of sockets closing costs one bound, not one per record, and nothing waits on
   * Kafka for ever. What could not be sent is logged and counted, not retried: the device's next
   * connect, disconnect or lease renewal tells the offline batcher again.
   */
  private presence(userId: string, deviceId: string, status: PresenceStatus): void {
    this.presenceQueue.push(this.presenceValue(userId, deviceId, status));
    this.sendPresence();
  }

  private sendPresence(): void {
    if (this.presenceSending || this.presenceQueue.length === 0) return;
    this.presenceSending = this.sendQueuedPresence().finally(() => {
      this.presenceSending = undefined;
      this.sendPresence(); // records queued while the last send was settling
    });
  }

  private async sendQueuedPresence(): Promise<void> {
    const { logger, metrics } = this.options;
    while (this.presenceQueue.length > 0) {
      const queued = this.presenceQueue;
      this.presenceQueue = [];
      // Each record with the status its metrics count it under (a renewal: RENEWED).
      const batch = queued.flatMap((entry) =>
        'renewalOf' in entry
          ? this.registry
              .devices((userId) => this.renewals.renews(entry.renewalOf, userId))
              .map((d) => ({
                value: this.presenceValue(d.userId, d.deviceId, 'ONLINE'),
                status: 'RENEWED',
              }))
          : [{ value: entry, status: entry.status as string }],
      );
      if (batch.length === 0) continue;
      const publisher = this.options.publisher();
      for (const { value } of batch) publisher.encoded('presence', value.user_id, value);
      try {
        await publisher.flush();
        for (const { status } of batch) metrics.presence.inc({ status });
      } catch (err) {
        for (const { status } of batch) metrics.presenceFailed.inc({ status });
        logger.error(
          {
            err,
            records: batch.length,
            first: batch
              .slice(0, 5)
              .map(({ value: p, status }) => `${p.user_id}/${p.device_id} ${status}`),
          },
          'presence not published (Kafka did not take it): the offline batcher misses these devices going online or offline until their next connect or disconnect; check Kafka',
        );
      }
    }
  }

  private async push(batch: InboundBatch): Promise<void> {
    const { codec, metrics } = this.options;
    // Counted per batch: one counter update per (type, outcome), not one per socket.
    const counts = new Map<string, { type: string; outcome: string; n: number }>();
    const count = (type: string, outcome: string) => {
      const id = `${type}\u0000${outcome}`;
      const c = counts.get(id);
      if (c) c.n++;
      else counts.set(id, { type, outcome, n: 1 });
    };
    for (const record of batch.records) {
      if (record.value === null) continue;
      let message: PushMessage;
      let userId: string;
      try {
        // Synchronous once the schema is known (every record but the first of a schema).
        const { value } =
          codec.decodeCachedAs('receiptUpdates', record.value) ??
          (await codec.decodeAs('receiptUpdates', record.value));
        userId = value.user_id;
        message = toPushMessage(value);
      } catch (err) {
        // The pipeline's output, not a client's: log it and go on.
        this.options.logger.warn(
          { err, partition: record.partition, offset: record.offset },
          'undecodable receipt update skipped',
        );
        continue;
      }
      const connections = this.registry.connectionsOf(userId);
      if (connections.length === 0) {
        count(message.type, 'unrouted');
        continue;
      }
      const text = Buffer.from(JSON.stringify(message));
      for (const c of connections) {
        const outcome = this.registry.deliver(c, text, skipsDevice(message, c.deviceId));
        count(message.type, outcome);
        if (outcome !== 'dropped') continue;
        // Out of the registry now, not when its close event comes: nothing more is sent to it
        // (and counted as dropped again) meanwhile.
        this.closed(c);
        this.options.logger.warn(
          { userId, deviceId: c.deviceId, maxBufferedBytes: this.options.maxBufferedBytes },
          'slow WebSocket dropped: its send buffer is full',
        );
      }
    }
    for (const { type, outcome, n } of counts.values()) metrics.pushes.inc({ type, outcome }, n);
  }
}
