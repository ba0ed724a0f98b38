import { alwaysHealthy } from '../runtime/health';
import { OfflineBatcher } from './offline-batcher';
import { PersisterService } from './persister-service';
import { Pipeline } from './pipeline';
import type { Service, ServiceContext } from './run-service';
import { TicksHttpServer } from './ticks-http-server';
import { DurableReceiptDetails } from './durable-receipt-details';

/**
 * The deployables, each as its own process runs it (scripts/<name>.ts: runService(...)); every
 * one is scaled by starting more processes.
 */

/** The processors: one process of the consumer group TICKS_GROUP_ID. */
export function pipelineProcess(context: ServiceContext): Service {
  const pipeline = new Pipeline(context);
  return {
    name: 'pipeline',
    components: [pipeline],
    metrics: {
      registry: pipeline.metrics.registry,
      port: context.config.metricsPort,
      portVariable: 'TICKS_METRICS_PORT',
      health: pipeline.health(),
    },
    stopping: 'finishing the batch in flight and committing',
  };
}

/** The persister: state_changes → Cassandra, consumer group TICKS_PERSISTER_GROUP_ID. */
export function persisterProcess(context: ServiceContext): Service {
  const persister = new PersisterService(context);
  return {
    name: 'persister',
    components: [persister],
    metrics: {
      registry: persister.metrics.registry,
      port: context.config.persister.metricsPort,
      portVariable: 'TICKS_PERSISTER_METRICS_PORT',
      health: alwaysHealthy(() => ({ partitions: persister.partitions })),
    },
    stopping: 'flushing watermarks and committing',
  };
}

/** The offline batcher: presence + receipt_updates → one OfflineBatch on reconnect. */
export function offlineProcess(context: ServiceContext): Service {
  const batcher = new OfflineBatcher(context);
  return {
    name: 'offline batcher',
    components: [batcher],
    metrics: {
      registry: batcher.metrics.registry,
      port: context.config.metricsPort,
      portVariable: 'TICKS_METRICS_PORT',
      health: alwaysHealthy(() => ({ partitions: batcher.ownedPartitions })),
    },
    running: () => ({ groupId: batcher.groupId }),
  };
}

/**
 * The query API and (unless `gateway: false`) the WebSocket push gateway, behind a load
 * balancer; receipt details whose Redis copy expired are read from Cassandra.
 */
export function apiProcess(options: { gateway: boolean; demo: boolean }) {
  return (context: ServiceContext): Service => {
    const durable = new DurableReceiptDetails(context.config);
    const server = new TicksHttpServer({
      ...context,
      gateway: options.gateway,
      demo: options.demo,
      receiptDetails: (redis) => durable.behind(redis),
    });
    return {
      name: 'query API',
      components: [durable, server],
      metrics: {
        registry: server.metrics.registry,
        port: context.config.metricsPort,
        portVariable: 'TICKS_METRICS_PORT',
        health: server.health(),
      },
      running: () => ({ url: server.url }),
    };
  };
}
