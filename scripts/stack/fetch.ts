/**
 * Downloads the servers from Maven Central into .stack/cache, once. Every download goes into a
 * temporary sibling directory first and is renamed into place only when complete, so an
 * interrupted fetch leaves no half-filled cache behind: the next `up` simply fetches again.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tailFile } from './log-tail';
import { StackError } from './managed-server';
import { logsDir, REPO_ROOT } from './paths';
import type { Progress } from './progress';

/** Names the POM a lib directory was fetched with: a changed POM means a new fetch. */
const STAMP = '.fetched-from';

export function requireMaven(): void {
  if (spawnSync('mvn', ['-v'], { stdio: 'ignore' }).error) {
    throw new StackError(
      'mvn not found — the stack downloads Kafka, Cassandra and the registry with Maven.\n' +
        '  Fix: sudo apt-get install maven',
    );
  }
}

/** Removes leftovers of interrupted fetches (`<name>.tmp-*`, `<name>.old-*`) next to target. */
function sweep(target: string): void {
  const dir = path.dirname(target);
  if (!fs.existsSync(dir)) return;
  const base = path.basename(target);
  for (const entry of fs.readdirSync(dir)) {
    if (entry.startsWith(`${base}.tmp-`) || entry.startsWith(`${base}.old-`)) {
      fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
    }
  }
}

/** Fills a fresh temp dir with fill(), then swaps it in as target in one rename. */
async function atomically(target: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  sweep(target);
  const tmp = `${target}.tmp-${process.pid}`;
  fs.mkdirSync(tmp, { recursive: true });
  try {
    await fill(tmp);
    if (fs.existsSync(target)) {
      const old = `${target}.old-${process.pid}`;
      fs.renameSync(target, old);
      fs.renameSync(tmp, target);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, target);
    }
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Runs mvn with its output in .stack/logs/fetch-<name>.log, showing elapsed time meanwhile. */
export interface Fetchable {
  /** Used in file names (.stack/logs/fetch-<name>.log). */
  name: string;
  /** Used in messages. */
  title: string;
}

async function runMaven(
  what: Fetchable,
  args: string[],
  cwd: string,
  progress: Progress,
): Promise<void> {
  requireMaven();
  fs.mkdirSync(logsDir, { recursive: true });
  const log = path.join(logsDir, `fetch-${what.name}.log`);
  const name = what.title;
  const fd = fs.openSync(log, 'w');
  const task = `download ${name}`;
  progress.begin(task);
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('mvn', ['-q', '-B', '-Dstyle.color=never', ...args], {
      cwd,
      stdio: ['ignore', fd, fd],
    });
    child.once('exit', resolve);
    child.once('error', () => resolve(-1));
  });
  fs.closeSync(fd);
  if (code !== 0) {
    progress.done(task, `✗ download of ${name} failed`);
    throw new StackError(
      `Maven could not download ${name} (exit ${code}). Check the network and ~/.m2/settings.xml.\n` +
        `  log: ${path.relative(REPO_ROOT, log)}`,
      tailFile(log, 30),
    );
  }
  progress.done(task, `✓ downloaded ${name} in ${progress.elapsed(task) || 'a moment'}`);
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * `mvn dependency:copy-dependencies` of a POM into libDir (e.g. .stack/cache/kafka/lib).
 * Skipped when libDir exists and was fetched from this exact POM.
 */
export async function ensureMavenLibs(
  what: Fetchable,
  pom: string,
  libDir: string,
  progress: Progress,
): Promise<void> {
  const stamp = `${path.relative(REPO_ROOT, pom)} sha256:${sha256(pom)}`;
  const stampFile = path.join(libDir, STAMP);
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8').trim() === stamp) return;
  const name = what.title;
  progress.line(
    `fetching ${name} jars from Maven Central into ${path.relative(REPO_ROOT, libDir)}`,
  );
  await atomically(libDir, async (tmp) => {
    await runMaven(
      what,
      [
        '-f',
        pom,
        'dependency:copy-dependencies',
        `-DoutputDirectory=${tmp}`,
        '-DincludeScope=runtime',
      ],
      REPO_ROOT,
      progress,
    );
    if (!fs.readdirSync(tmp).some((f) => f.endsWith('.jar'))) {
      throw new StackError(
        `Maven fetched no jars for ${name} from ${path.relative(REPO_ROOT, pom)}`,
      );
    }
    fs.writeFileSync(path.join(tmp, STAMP), `${stamp}\n`);
  });
}

/** `mvn dependency:copy` of one artifact (group:artifact:version:type:classifier) to a file. */
export async function ensureMavenArtifact(
  what: Fetchable,
  coordinates: string,
  file: string,
  progress: Progress,
): Promise<void> {
  if (fs.existsSync(file)) return;
  progress.line(
    `fetching ${coordinates} from Maven Central into ${path.relative(REPO_ROOT, file)}`,
  );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  sweep(file);
  const tmp = `${file}.tmp-${process.pid}`;
  fs.mkdirSync(tmp, { recursive: true });
  try {
    // cwd = the empty temp dir, so that Maven never picks up a pom.xml of ours.
    await runMaven(
      what,
      ['dependency:copy', `-Dartifact=${coordinates}`, `-DoutputDirectory=${tmp}`],
      tmp,
      progress,
    );
    const fetched = path.join(tmp, path.basename(file));
    if (!fs.existsSync(fetched))
      throw new StackError(`Maven did not produce ${path.basename(file)}`);
    fs.renameSync(fetched, file);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Unpacks a .tar.gz into dir (atomically), unless dir was unpacked from this very archive. */
export async function ensureUnpacked(
  archive: string,
  dir: string,
  progress: Progress,
): Promise<void> {
  const stampFile = path.join(dir, STAMP);
  const stamp = path.basename(archive);
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8').trim() === stamp) return;
  progress.line(`unpacking ${stamp} into ${path.relative(REPO_ROOT, dir)}`);
  await atomically(dir, async (tmp) => {
    const res = spawnSync('tar', ['--no-same-owner', '-xzf', archive, '-C', tmp], {
      encoding: 'utf8',
    });
    if (res.signal || res.error) {
      // Interrupted (Ctrl-C) or no tar: the archive is fine, the temp dir is swept next time.
      throw new StackError(
        `unpacking ${archive} was interrupted: ${res.signal ?? res.error?.message}`,
      );
    }
    if (res.status !== 0) {
      // A corrupt archive would fail the same way forever: drop it so the next run fetches anew.
      fs.rmSync(archive, { force: true });
      throw new StackError(
        `cannot unpack ${archive} (deleted it; run again to re-download): ${res.stderr}`,
      );
    }
    fs.writeFileSync(path.join(tmp, STAMP), `${stamp}\n`);
  });
}
