import { readdir } from 'node:fs/promises';
import { Gauge, collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's default collectors that walk every open handle on the event loop at each
 * scrape: in a gateway holding 10,000 sockets one scrape stopped pushes for ~34 ms (measured:
 * the bench's serving phase, a CPU profile of the API process). The gateway counts its
 * connections itself (ticks_gateway_connections).
 */
const WALKS_EVERY_HANDLE = [
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
  'process_open_fds',
];

/**
 * The process metrics every ticks process exports (CPU, memory, GC, event-loop lag, ...), as
 * prom-client's defaults, less the collectors that block the event loop in proportion to open
 * sockets; open file descriptors are still counted, with the directory read off the loop.
 */
export function collectProcessMetrics(registry: Registry, prefix = 'ticks_'): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const name of WALKS_EVERY_HANDLE) registry.removeSingleMetric(prefix + name);
  if (process.platform !== 'linux') return;
  new Gauge({
    name: `${prefix}process_open_fds`,
    help: 'Number of open file descriptors.',
    registers: [registry],
    async collect() {
      try {
        // Minus the descriptor that read the directory.
        this.set((await readdir('/proc/self/fd')).length - 1);
      } catch {
        // no /proc: the gauge stays unset
      }
    },
  });
}
