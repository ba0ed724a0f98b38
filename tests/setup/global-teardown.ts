/** Jest global teardown: stop exactly what the global setup started, nothing else. */
import type { StartedTestContainer } from 'testcontainers';
import { stopServers } from '../../scripts/stack/stack';
import { CONTAINERS_KEY, STARTED_ENV } from './started';

export default async function globalTeardown(): Promise<void> {
  const containers = (globalThis as Record<string, unknown>)[CONTAINERS_KEY] as
    StartedTestContainer[] | undefined;
  if (containers) {
    await Promise.all(containers.map((c) => c.stop()));
    return;
  }
  const started = JSON.parse(process.env[STARTED_ENV] ?? '[]') as string[];
  if (started.length === 0) return;
  const stopped = await stopServers(started);
  process.stderr.write(
    `[test stack] stopped what the tests started: ${stopped.map((s) => s.name).join(', ')}\n`,
  );
}
