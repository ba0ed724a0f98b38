import { Workload, type WorkloadOptions } from '../../scripts/traffic/workload';
import type { Harness } from './harness';

/**
 * Publishes a seeded workload to the harness's input topics: every conversation's members, then
 * about `events` events of traffic, flushed 500 at a time (`pauseMs` apart: load that keeps
 * flowing for a while). The same options give the same events.
 */
export async function loadWorkload(
  h: Harness,
  options: WorkloadOptions,
  events: number,
  pauseMs = 0,
): Promise<Workload> {
  const workload = new Workload(h.publish, options);
  workload.setUp();
  await h.publish.flush();
  for (let sent = 0; sent < events; sent += 500) {
    workload.step(500);
    await h.publish.flush();
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return workload;
}
