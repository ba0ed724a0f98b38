import { ConfigError, DEV_AUTH_SECRET, loadConfig } from './config';

describe('API, gateway and auth configuration', () => {
  it('defaults to the development secret outside production', () => {
    const config = loadConfig({});
    expect(config.auth).toMatchObject({ secret: DEV_AUTH_SECRET, production: false });
    expect(config.api.port).toBe(8080);
  });

  it('refuses the development secret in production (flag or NODE_ENV)', () => {
    for (const env of [{ TICKS_PRODUCTION: 'true' }, { NODE_ENV: 'production' }]) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(/TICKS_AUTH_SECRET must be set in production/);
    }
    const config = loadConfig({ TICKS_PRODUCTION: 'true', TICKS_AUTH_SECRET: 's'.repeat(40) });
    expect(config.auth.production).toBe(true);
  });

  it('requires a secret of at least 32 characters and a separate offline group', () => {
    expect(() => loadConfig({ TICKS_AUTH_SECRET: 'short' })).toThrow(/at least 32/);
    expect(() => loadConfig({ TICKS_GROUP_ID: 'same', TICKS_OFFLINE_GROUP_ID: 'same' })).toThrow(
      /TICKS_OFFLINE_GROUP_ID must differ/,
    );
  });
});
