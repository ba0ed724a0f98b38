import autocannon from 'autocannon';
import { sleep } from './pipeline-process';
import type { MetricsSnapshot } from './prometheus-text';
import { pausesBetween, type ProcessPauses } from './process-pauses';

/** One endpoint as the load generator asks it. */
export interface ApiTarget {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  token: string;
  body?: unknown;
  /**
   * Every answer counts (/healthz: the framework's floor, whether its probes say 200 or 503 —
   * a Kafka probe slower than its bound on a busy machine turns it 503, at the same cost).
   */
  anyStatus?: boolean;
}

export interface LoadFigures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** Answers other than 2xx, and connection errors or timeouts. */
  failed: number;
  seconds: number;
}

export interface EndpointFigures {
  name: string;
  request: string;
  endpoint: LoadFigures;
  /** GET /healthz just before it, with the same connections: the framework's floor. */
  healthz: LoadFigures;
  /** Requests/s of the endpoint ÷ those of /healthz. */
  ratio: number;
}

export interface FixedRateFigures {
  name: string;
  offered: number;
  endpoint: LoadFigures;
  /** What stopped the API process's event loop meanwhile (the tail's usual suspects). */
  api: ProcessPauses;
}

export interface ApiLoadOptions {
  url: string;
  connections: number;
  seconds: number;
}

/**
 * Drives the query API with autocannon: each endpoint at full speed right after /healthz (same
 * connections, same length: the ratio cancels most of what the machine is doing meanwhile), and
 * at a fixed offered rate for the latency at a known load.
 */
export class ApiLoad {
  constructor(private readonly options: ApiLoadOptions) {}

  async beside(target: ApiTarget): Promise<EndpointFigures> {
    // Requests still in flight from the run before (a slow endpoint's) finish first.
    await sleep(1000);
    const healthz = await this.run({
      name: 'healthz',
      method: 'GET',
      path: '/healthz',
      token: '',
      anyStatus: true,
    });
    const endpoint = await this.run(target);
    return {
      name: target.name,
      request: `${target.method} ${target.path}`,
      endpoint,
      healthz,
      ratio: endpoint.requestsPerSecond / healthz.requestsPerSecond,
    };
  }

  async atRate(
    target: ApiTarget,
    offered: number,
    apiMetrics: () => Promise<MetricsSnapshot>,
  ): Promise<FixedRateFigures> {
    const before = await apiMetrics();
    const endpoint = await this.run(target, offered);
    return { name: target.name, offered, endpoint, api: pausesBetween(before, await apiMetrics()) };
  }

  private async run(target: ApiTarget, overallRate?: number): Promise<LoadFigures> {
    const headers: Record<string, string> = {};
    if (target.token) headers.authorization = `Bearer ${target.token}`;
    if (target.body !== undefined) headers['content-type'] = 'application/json';
    const result = await autocannon({
      url: `${this.options.url}${target.path}`,
      method: target.method,
      headers,
      body: target.body === undefined ? undefined : JSON.stringify(target.body),
      connections: this.options.connections,
      duration: this.options.seconds,
      ...(overallRate === undefined ? {} : { overallRate }),
    });
    const failed = result.non2xx + result.errors;
    const answered = target.anyStatus ? result['2xx'] + result.non2xx : result['2xx'];
    // None answered in time is a figure too (0 requests/s), not a reason to stop the run.
    return {
      requestsPerSecond: answered / result.duration,
      p50: answered > 0 ? result.latency.p50 : NaN,
      p99: answered > 0 ? result.latency.p99 : NaN,
      failed,
      seconds: result.duration,
    };
  }
}
