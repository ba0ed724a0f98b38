/** Is a TCP port free, and if not, who holds it (for an error message that names the culprit). */
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { processCommandLine } from './proc';

/**
 * True when binding host:port fails with EADDRINUSE. Binding (rather than connecting) also catches
 * a process that holds the port on 0.0.0.0 or has not started accepting yet.
 */
export function isPortTaken(port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(true);
      else reject(err);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(false)));
  });
}

export interface PortOwner {
  pid: number;
  command: string;
}

/** Parses one line of `ss -Hltnp`: `... users:(("java",pid=123,fd=4))`. */
export function parseSsOwner(line: string): { pid: number; name: string } | undefined {
  const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(line);
  return m ? { name: m[1] ?? '?', pid: Number(m[2]) } : undefined;
}

/** Best effort (needs `ss` and permission to see the process): undefined when unknown. */
export function findPortOwner(port: number): PortOwner | undefined {
  const res = spawnSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  if (res.status !== 0 || !res.stdout) return undefined;
  for (const line of res.stdout.split('\n')) {
    const owner = parseSsOwner(line);
    if (owner) return { pid: owner.pid, command: processCommandLine(owner.pid) ?? owner.name };
  }
  return undefined;
}
