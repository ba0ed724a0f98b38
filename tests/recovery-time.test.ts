import { spawn } from 'node:child_process';
import path from 'node:path';

/**
 * `npm run recovery-time` on the real stack with the default configuration: after a SIGKILL a
 * second process takes the partitions over within the session timeout and a little (it was
 * 30 s and more with the old 30 s session); after a SIGTERM the process leaves the group and
 * the takeover takes a few seconds.
 */
describe('recovery time after a pipeline process goes away', () => {
  it('SIGKILL: processed again within 20 s; SIGTERM: within 8 s', async () => {
    const args = [
      '--import',
      'tsx',
      path.join(__dirname, '..', 'scripts', 'recovery-time.ts'),
      ...['--scenarios', 'kill,term', '--runs', '1', '--partitions', '2', '--timeout', '60'],
    ];
    const env: NodeJS.ProcessEnv = { ...process.env, TICKS_LOG_LEVEL: 'error' };
    // The defaults are what is measured.
    delete env.TICKS_SESSION_TIMEOUT_MS;
    delete env.TICKS_PARTITION_LEASE_MS;
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`recovery-time exited with ${code}:\n${stderr.slice(-3000)}`);

    const seconds = (scenario: string) => {
      const match = new RegExp(`^${scenario} #1: .* processing again after ([\\d.]+) s`, 'm').exec(
        stdout,
      );
      if (!match) throw new Error(`no ${scenario} figure in:\n${stdout}`);
      return Number(match[1]);
    };
    expect(seconds('kill')).toBeLessThan(20);
    expect(seconds('term')).toBeLessThan(8);
  }, 240_000);
});
