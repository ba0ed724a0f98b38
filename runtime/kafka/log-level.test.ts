import { logLevel } from 'kafkajs';
import { pinoLevelOf } from './log-level';

describe('kafkajs log levels in ticks’ log', () => {
  it('keeps a real failure an error', () => {
    expect(pinoLevelOf(logLevel.ERROR, 'Connection timeout')).toBe('error');
    expect(pinoLevelOf(logLevel.ERROR, undefined)).toBe('error');
  });

  it('makes broker answers kafkajs retries itself warnings', () => {
    const loading = "The coordinator is loading and hence can't process requests for this group";
    expect(pinoLevelOf(logLevel.ERROR, loading)).toBe('warn');
    expect(pinoLevelOf(logLevel.ERROR, 'The group is rebalancing, so a rejoin is needed')).toBe(
      'warn',
    );
  });

  it('keeps warnings and puts the rest at debug', () => {
    expect(pinoLevelOf(logLevel.WARN, 'x')).toBe('warn');
    expect(pinoLevelOf(logLevel.INFO, 'x')).toBe('debug');
  });

  it('puts the warning about the producer’s bounded retries (deliberate) at debug', () => {
    const warning = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';
    expect(pinoLevelOf(logLevel.WARN, undefined, warning)).toBe('debug');
  });
});
