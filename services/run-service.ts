import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { loadConfig, type TicksConfig } from '../config/config';
import { AvroCodec } from '../schemas/avro-codec';
import { createLogger } from '../runtime/logger';
import { alwaysHealthy, type ProcessHealth } from '../runtime/health';
import { MetricsServer } from '../runtime/metrics-server';

/** Something a process starts and, once started, stops: a service, a server, a connection. */
export interface Component {
  /** What it is, as error lines name it: "pipeline", "metrics server". */
  readonly name: string;
  start(): Promise<void>;
  /** Called only after start() resolved. */
  stop(): Promise<void>;
}

/** A component did not start; the message names it and says why (the cause's own message). */
export class StartError extends Error {
  override readonly name = 'StartError';
  constructor(
    readonly component: string,
    cause: unknown,
  ) {
    super(`${component} did not start: ${messageOf(cause)}`, { cause });
  }
}

/** A component did not stop cleanly (the others were still stopped). */
export class StopError extends Error {
  override readonly name = 'StopError';
  constructor(
    readonly component: string,
    cause: unknown,
  ) {
    super(`${component} did not stop cleanly: ${messageOf(cause)}`, { cause });
  }
}

/**
 * A process's components: started in order (each may rely on those before it), stopped in
 * reverse. A failed start stops what had already started, so nothing is left half-running.
 */
export class Components {
  private readonly started: Component[] = [];

  constructor(
    private readonly all: readonly Component[],
    private readonly logger: Logger,
  ) {}

  /**
   * Starts each component in turn. Throws StartError naming the one that failed, after stopping
   * those started before it. If `abort` fires (a signal during a slow start), no further
   * component starts: those started are stopped and this resolves false.
   */
  async start(abort?: AbortSignal): Promise<boolean> {
    for (const component of this.all) {
      if (abort?.aborted) {
        await this.stop();
        return false;
      }
      try {
        await component.start();
      } catch (err) {
        // A failure to stop is logged by stop(); the start failure is what the caller must see.
        await this.stop().catch(() => undefined);
        throw new StartError(component.name, err);
      }
      this.started.push(component);
    }
    return true;
  }

  /**
   * Stops what started, last first. A component that fails to stop is logged and the others are
   * still stopped; then the first failure is thrown (StopError). Idempotent.
   */
  async stop(): Promise<void> {
    let failure: StopError | undefined;
    for (let component = this.started.pop(); component; component = this.started.pop()) {
      try {
        await component.stop();
      } catch (err) {
        this.logger.error({ err, component: component.name }, 'component did not stop cleanly');
        failure ??= new StopError(component.name, err);
      }
    }
    if (failure) throw failure;
  }
}

/**
 * /metrics and the health probes (/livez, /readyz, /healthz) of a process, as a component
 * (started first, closed last, so the probes answer while the rest starts and stops).
 */
export class MetricsEndpoint implements Component {
  readonly name = 'metrics server';
  private readonly server: MetricsServer;
  private port: number | undefined;

  constructor(
    registry: Registry,
    private readonly o: {
      port: number;
      /** The variable that sets `port`, for the error when it is taken. */
      portVariable: string;
      /** What the probes answer; without it, always live and ready. */
      health?: ProcessHealth;
    },
  ) {
    this.server = new MetricsServer(registry, o.health ?? alwaysHealthy());
  }

  get url(): string {
    if (this.port === undefined) throw new Error('metrics server not started');
    return `http://127.0.0.1:${this.port}/metrics`;
  }

  async start(): Promise<void> {
    try {
      this.port = await this.server.listen(this.o.port);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      throw new Error(
        `port ${this.o.port} is already in use (another ticks process?) — stop it, or set ${this.o.portVariable} to a free port (0: any)`,
        { cause: err },
      );
    }
  }

  async stop(): Promise<void> {
    await this.server.close();
    this.port = undefined;
  }
}

/** What every process starts from. */
export interface ServiceContext {
  config: TicksConfig;
  logger: Logger;
  codec: AvroCodec;
}

/**
 * Loads the configuration (a bad value throws ConfigError naming the variable), creates the
 * logger and the Avro codec on the schema registry.
 */
export function createServiceContext(
  options: {
    /** pino's `name` (default "ticks"). */
    loggerName?: string;
    /** The log level from the configured one (the run command is quieter). */
    logLevel?: (configured: string) => string;
  } = {},
): ServiceContext {
  const config = loadConfig();
  const level = options.logLevel?.(config.logLevel) ?? config.logLevel;
  return {
    config,
    logger: createLogger(level, options.loggerName),
    codec: AvroCodec.connect({
      url: config.registryUrl,
      requestTimeoutMs: config.registryTimeoutMs,
    }),
  };
}

/** A deployable, assembled: what to start, and what to serve at /metrics. */
export interface Service {
  /** What runs, as logs name it ("pipeline"). */
  name: string;
  /** Started in this order, after the metrics server; stopped in reverse. */
  components: Component[];
  metrics: {
    registry: Registry;
    port: number;
    /** The variable that sets the port (TICKS_METRICS_PORT...). */
    portVariable: string;
    /** What /livez and /readyz answer (with a detail, e.g. the partitions owned). */
    health?: ProcessHealth;
  };
  /** Logged with "<name> running" once every component started (URLs, group...). */
  running?: () => Record<string, unknown>;
  /** What stopping does, logged on SIGINT/SIGTERM. */
  stopping?: string;
}

/**
 * The first SIGINT or SIGTERM: `abort` fires and `stopped` resolves. Later signals are ignored
 * while the process stops cleanly (`npm run` passes a terminal's Ctrl-C on to a process that
 * already got it: a second signal must not cut the final commit short).
 */
export function stopOnSignal(): { abort: AbortSignal; stopped: Promise<NodeJS.Signals> } {
  const controller = new AbortController();
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      controller.abort();
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return { abort: controller.signal, stopped };
}

/**
 * Runs one deployable as its own process: context (config, logger, codec), then the metrics
 * server and the service's components in order; on SIGINT/SIGTERM stops them in reverse and
 * exits 0. A failure exits 1 with one line naming what failed and what to do, e.g.
 * `error: pipeline did not start: Kafka not reachable at 127.0.0.1:19092 — run \`npm run stack:up\``.
 */
export function runService(
  assemble: (context: ServiceContext) => Service,
  options: { loggerName?: string } = {},
): void {
  exitWhenDone(async () => {
    const signals = stopOnSignal();
    const context = createServiceContext({ loggerName: options.loggerName });
    const { logger } = context;
    const service = assemble(context);
    const metrics = new MetricsEndpoint(service.metrics.registry, service.metrics);
    const components = new Components([metrics, ...service.components], logger);
    void signals.stopped.then((signal) =>
      logger.info(
        { signal },
        `stopping ${service.name}${service.stopping ? `: ${service.stopping}` : ''}`,
      ),
    );
    if (await components.start(signals.abort)) {
      logger.info({ metrics: metrics.url, ...service.running?.() }, `${service.name} running`);
      await signals.stopped;
      await components.stop();
    }
  });
}

/**
 * Runs a command's body and turns its failure into one readable line and exit code 1 instead of
 * a stack trace (TICKS_DEBUG=1 adds the stack); exit code 0 once it is done.
 */
export function exitWhenDone(body: () => Promise<void>): void {
  body().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`error: ${messageOf(err)}`);
      if (process.env.TICKS_DEBUG && err instanceof Error) console.error(err.stack);
      process.exit(1);
    },
  );
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
