/**
 * Compiles ticks to JavaScript in dist/ (what the long-running pipeline process runs: no
 * TypeScript loader in the hot path) and copies the files the code reads at run time next to it:
 * Avro schemas, Lua scripts, CQL migrations, the demo page. Incremental: a second build with
 * nothing changed takes about a second.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
export const DIST = path.join(ROOT, 'dist');

/** Directories whose non-TypeScript files the code reads through __dirname. */
const ASSET_DIRS = [
  'schemas',
  'stores/redis/lua',
  'stores/cassandra/migrations',
  'api/demo/public',
];

export function buildDist(): void {
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
  const result = spawnSync(tsc, ['-p', path.join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0)
    throw new Error(
      `compiling ticks failed (tsc -p tsconfig.build.json): ${result.stdout}${result.stderr}`.trim(),
    );
  for (const dir of ASSET_DIRS) {
    const from = path.join(ROOT, dir);
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith('.ts')) continue;
      cpSync(path.join(from, entry.name), path.join(DIST, dir, entry.name), { recursive: true });
    }
  }
}

if (require.main === module) {
  const started = Date.now();
  buildDist();
  console.error(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}
