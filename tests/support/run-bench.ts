import { spawn } from 'node:child_process';
import path from 'node:path';

/** `npm run bench -- args` (quiet logs); its output, or an error with its stderr if it failed. */
export async function runBenchCli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, '..', '..', 'scripts', 'bench', 'cli.ts'), ...args],
    { env: { ...process.env, TICKS_LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`bench exited with ${code}:\n${stderr.slice(-3000)}`);
  return { stdout, stderr };
}

/** The serving phase at tiny sizes: every figure, none of them meaningful. */
export const TINY_SERVING = [
  ...['--serving-seconds', '1', '--serving-connections', '4', '--serving-rate', '50'],
  ...['--serving-conversations', '3,60', '--serving-group', '12'],
  ...['--gateway-connections', '30', '--push-rate', '300', '--push-seconds', '2'],
  ...['--slow-clients', '2', '--slow-mib', '24'],
];
