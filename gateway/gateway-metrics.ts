import { Counter, Gauge, type Registry } from 'prom-client';

/** The push gateway's metrics, on the registry the process serves at /metrics. */
export class GatewayMetrics {
  readonly connections: Gauge;
  readonly pushes: Counter<'type' | 'outcome'>;
  readonly presence: Counter<'status'>;
  readonly presenceFailed: Counter<'status'>;

  constructor(registry: Registry) {
    this.connections = new Gauge({
      name: 'ticks_gateway_connections',
      help: 'Open WebSocket connections on this gateway instance',
      registers: [registry],
    });
    this.pushes = new Counter({
      name: 'ticks_gateway_pushes_total',
      help: 'Updates handed to sockets by type and outcome: sent, skipped (the origin device), dropped (send buffer full: connection closed), unrouted (user not connected here)',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    });
    this.presence = new Counter({
      name: 'ticks_gateway_presence_total',
      help: 'Presence records published by status',
      labelNames: ['status'] as const,
      registers: [registry],
    });
    this.presenceFailed = new Counter({
      name: 'ticks_gateway_presence_failed_total',
      help: 'Presence records not published by status: Kafka did not acknowledge them within TICKS_KAFKA_SEND_TIMEOUT_MS (logged; the offline batcher did not hear of them)',
      labelNames: ['status'] as const,
      registers: [registry],
    });
  }
}
