import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Serves /metrics (Prometheus text) and /healthz (200 while `healthy()` says so). */
export class MetricsServer {
  private server: Server | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly healthy: () => { ok: boolean; detail: unknown },
  ) {}

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    this.server = createServer((req, res) => {
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
      } else if (req.url === '/healthz') {
        const { ok, detail } = this.healthy();
        res.writeHead(ok ? 200 : 503, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ ok, detail }));
      } else {
        res.writeHead(404).end('not found: try /metrics or /healthz\n');
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
