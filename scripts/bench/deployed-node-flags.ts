import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * The node flags a deployable runs with, read from its script in package.json (`npm run <name>`:
 * `node <flags> dist/scripts/<name>.js`), so the bench runs each process as it is deployed and
 * the flags have one home.
 */
export function deployedNodeFlags(deployable: 'pipeline' | 'api'): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const script = pkg.scripts[deployable];
  if (script === undefined) throw new Error(`package.json has no "${deployable}" script`);
  return nodeFlagsOf(script, `dist/scripts/${deployable}.js`);
}

/** The `--` flags between `node` and `entry` in a shell command line. */
export function nodeFlagsOf(command: string, entry: string): string[] {
  const match = new RegExp(`(?:^|\\s)node((?:\\s+--\\S+)*)\\s+${entry.replace(/\./g, '\\.')}`).exec(
    command,
  );
  if (!match) throw new Error(`"${command}" does not run node … ${entry}`);
  return match[1]!.split(/\s+/).filter(Boolean);
}
