/**
 * Jest global setup: make sure the real servers are up before any test runs.
 * - default: the local stack (scripts/stack), started only where not already running; the
 *   servers started here are remembered so that teardown stops exactly those and leaves a stack
 *   the developer started alone. Tests use the config defaults, which point at the local stack.
 * - TICKS_TEST_STACK=containers: docker-compose.yml's services via testcontainers.
 */
import { ensureStackUp, stopServers, StackUpError, formatFailure } from '../../scripts/stack/stack';
import { StackError } from '../../scripts/stack/managed-server';
import { STARTED_ENV, CONTAINERS_KEY } from './started';

export default async function globalSetup(): Promise<void> {
  const t0 = Date.now();
  if (process.env.TICKS_TEST_STACK === 'containers') {
    process.stderr.write(
      '\n[test stack] starting docker-compose.yml services with testcontainers…\n',
    );
    // Loaded only here: testcontainers is heavy, and its undici 8 does not load on Node 20
    // (testcontainers <= 12.0.1 uses undici 7, which does).
    const { startContainers } = await import('./containers');
    (globalThis as Record<string, unknown>)[CONTAINERS_KEY] = await startContainers();
  } else {
    process.stderr.write(
      '\n[test stack] making sure the local stack is up (as `npm run stack:up`)…\n',
    );
    try {
      const { started } = await ensureStackUp();
      process.env[STARTED_ENV] = JSON.stringify(started);
    } catch (err) {
      // Jest skips the global teardown when setup fails: stop what we started ourselves.
      if (err instanceof StackUpError) await stopServers(err.started);
      throw err instanceof StackError ? new Error(formatFailure(err)) : err;
    }
  }
  process.stderr.write(`[test stack] ready in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
}
