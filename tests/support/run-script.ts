import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Harness } from './harness';

export interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one of scripts/*.ts as an operator would (`npm run <name> -- args`), with the harness's
 * environment, and collects its output. node runs it with tsx as a loader.
 */
export function runScript(
  h: Harness,
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, '..', '..', 'scripts', script), ...args],
      {
        env: { ...process.env, ...h.env, TICKS_METRICS_PORT: '0', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
