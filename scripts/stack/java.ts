/**
 * Finds a Java runtime of the right major version. The servers disagree: Cassandra 5.0 runs on
 * Java 11 or 17 only, while Apicurio Registry 3.3 is compiled for Java 21. So we look beyond the
 * `java` on PATH: JAVA_HOME first, then PATH, then every JDK under /usr/lib/jvm.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface JavaRuntime {
  bin: string;
  major: number;
}

export interface JavaRange {
  min: number;
  max?: number;
}

/** "17.0.15" -> 17, "1.8.0_292" -> 8, "25" -> 25. */
export function parseJavaMajor(version: string): number | undefined {
  const m = /^(\d+)(?:\.(\d+))?/.exec(version.trim());
  if (!m) return undefined;
  const first = Number(m[1]);
  return first === 1 && m[2] !== undefined ? Number(m[2]) : first;
}

/** Reads JAVA_VERSION from a JDK's `release` file, e.g. `JAVA_VERSION="17.0.15"`. */
export function parseReleaseFile(text: string): number | undefined {
  const m = /^JAVA_VERSION="([^"]+)"/m.exec(text);
  return m?.[1] ? parseJavaMajor(m[1]) : undefined;
}

/** `java -version` prints e.g. `openjdk version "17.0.15" 2025-04-15` on stderr. */
export function parseVersionOutput(text: string): number | undefined {
  const m = /version "([^"]+)"/.exec(text);
  return m?.[1] ? parseJavaMajor(m[1]) : undefined;
}

const majorCache = new Map<string, number | undefined>();

function javaMajor(bin: string): number | undefined {
  if (majorCache.has(bin)) return majorCache.get(bin);
  let major: number | undefined;
  try {
    // The release file is instant; running `java -version` costs a JVM start.
    const home = path.dirname(path.dirname(fs.realpathSync(bin)));
    major = parseReleaseFile(fs.readFileSync(path.join(home, 'release'), 'utf8'));
  } catch {
    // no release file: fall through to asking the binary
  }
  if (major === undefined) {
    const res = spawnSync(bin, ['-version'], { encoding: 'utf8', timeout: 15_000 });
    major = res.status === 0 ? parseVersionOutput(res.stderr) : undefined;
  }
  majorCache.set(bin, major);
  return major;
}

function candidates(): string[] {
  const list: string[] = [];
  if (process.env.JAVA_HOME) list.push(path.join(process.env.JAVA_HOME, 'bin', 'java'));
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir) list.push(path.join(dir, 'java'));
  }
  try {
    for (const jdk of fs.readdirSync('/usr/lib/jvm').sort()) {
      list.push(path.join('/usr/lib/jvm', jdk, 'bin', 'java'));
    }
  } catch {
    // no /usr/lib/jvm on this system
  }
  return list.filter((bin) => {
    try {
      fs.accessSync(bin, fs.constants.X_OK);
      return fs.statSync(bin).isFile();
    } catch {
      return false;
    }
  });
}

export function findJava(range: JavaRange): JavaRuntime | undefined {
  for (const bin of candidates()) {
    const major = javaMajor(bin);
    if (
      major !== undefined &&
      major >= range.min &&
      (range.max === undefined || major <= range.max)
    ) {
      return { bin, major };
    }
  }
  return undefined;
}

export function describeRange(range: JavaRange): string {
  if (range.max === undefined) return `Java ${range.min} or newer`;
  return range.min === range.max ? `Java ${range.min}` : `Java ${range.min} to ${range.max}`;
}
