import pino from 'pino';
import { ConfigError, loadConfig } from '../config/config';
import type { AvroCodec } from '../schemas/avro-codec';
import { TicksHttpServer } from './ticks-http-server';

const server = (env: NodeJS.ProcessEnv, demo = false) =>
  new TicksHttpServer({
    config: loadConfig(env),
    logger: pino({ level: 'silent' }),
    codec: {} as AvroCodec,
    demo,
  });

describe('TicksHttpServer refuses to start', () => {
  it('with the development secret unless in dev mode on loopback, saying which variable to set', () => {
    expect(() => server({})).toThrow(ConfigError);
    expect(() => server({})).toThrow(/set TICKS_AUTH_SECRET/);
    expect(() => server({ TICKS_DEV_MODE: 'true', TICKS_API_HOST: '0.0.0.0' })).toThrow(
      /TICKS_API_HOST=0.0.0.0 is reachable beyond this machine/,
    );
    expect(() => server({ TICKS_DEV_MODE: 'true' })).not.toThrow();
    expect(() =>
      server({ TICKS_AUTH_SECRET: 's'.repeat(40), TICKS_API_HOST: '0.0.0.0' }),
    ).not.toThrow();
  });

  it('the demo outside dev mode', () => {
    expect(() => server({ TICKS_AUTH_SECRET: 's'.repeat(40) }, true)).toThrow(
      /the demo .* runs only in dev mode \(TICKS_DEV_MODE=true/,
    );
    expect(() => server({ TICKS_DEV_MODE: 'true' }, true)).not.toThrow();
  });
});
