/**
 * Where the local stack keeps its files. Everything lives under .stack/ (git-ignored) so that a
 * `down --purge` or `rm -rf .stack` is the whole cleanup, and so that our processes can be told
 * apart from anyone else's: each one's command line names an absolute path under STACK_DIR.
 */
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** TICKS_STACK_DIR moves it (a second stack view of one checkout: tests of sharing a stack). */
export const STACK_DIR = process.env.TICKS_STACK_DIR ?? path.join(REPO_ROOT, '.stack');

/** Downloads (jars, tarballs): kept by `down --purge`, because fetching them is the slow part. */
export const cacheDir = (server: string): string => path.join(STACK_DIR, 'cache', server);
/** Server state (logs of Kafka, sstables, AOF, H2 database): deleted by `down --purge`. */
export const dataRoot = path.join(STACK_DIR, 'data');
export const dataDir = (server: string): string => path.join(dataRoot, server);
/** Config files we generate on every start: never edited by hand, so safe to delete. */
export const confDir = (server: string): string => path.join(STACK_DIR, 'conf', server);
export const logsDir = path.join(STACK_DIR, 'logs');
export const logFile = (server: string): string => path.join(logsDir, `${server}.log`);
export const runDir = path.join(STACK_DIR, 'run');
export const pidFile = (server: string): string => path.join(runDir, `${server}.pid`);
export const mavenDir = path.join(REPO_ROOT, 'scripts', 'stack', 'maven');
