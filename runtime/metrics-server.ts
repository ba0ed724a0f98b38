import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { HEALTH_PATHS, type ProcessHealth } from './health';

/**
 * Serves /metrics (Prometheus text) and the health probes: /livez, /readyz and /healthz (the
 * same as /readyz), 200 when ok and 503 when not, with the report as JSON.
 */
export class MetricsServer {
  private server: Server | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly health: ProcessHealth,
  ) {}

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    this.server = createServer((req, res) => {
      const probe = req.url ? HEALTH_PATHS[req.url] : undefined;
      if (req.url === '/metrics') {
        this.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'Content-Type': this.registry.contentType });
            res.end(text);
          },
          (err: Error) => {
            res.writeHead(500).end(err.message);
          },
        );
      } else if (probe) {
        void probe(this.health).then((report) => {
          res.writeHead(report.ok ? 200 : 503, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(report));
        });
      } else {
        res.writeHead(404).end('not found: try /metrics, /livez or /readyz\n');
      }
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
    this.server = undefined;
  }
}
