import pino from 'pino';
import type { AvroCodec } from '../../schemas/avro-codec';
import type { TicksConfig } from '../../config/config-table';
import { TicksHttpServer, type TicksHttpServerOptions } from '../../services/ticks-http-server';

/**
 * The query API (and, unless `gateway: false`, the push gateway) in the test process on a free
 * port, on a harness's configuration and codec, started. Logs at warn unless a logger is given.
 */
export async function startApiServer(
  h: { config: TicksConfig; codec: AvroCodec },
  options: Partial<TicksHttpServerOptions> = {},
): Promise<TicksHttpServer> {
  const server = new TicksHttpServer({
    config: h.config,
    codec: h.codec,
    logger: pino({ level: 'warn' }),
    port: 0,
    ...options,
  });
  await server.start();
  return server;
}
