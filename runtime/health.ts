import type { ConsumerStatus } from './kafka/types';

/** One check's answer: `detail` says what is wrong (or, when fine, something worth knowing). */
export interface CheckResult {
  ok: boolean;
  detail?: string;
}

/**
 * A check of one dependency or component: failed when it throws (its message is the detail) or
 * answers a CheckResult with `ok: false`; fine when it answers anything else (a PING's PONG).
 */
export type HealthCheck = () => unknown;

export interface HealthReport {
  ok: boolean;
  checks: Record<string, CheckResult>;
  /** What the process adds for operators (e.g. the partitions it owns). */
  detail?: unknown;
}

/**
 * A process's health, as orchestrators probe it (Kubernetes' liveness and readiness):
 * - live: red only when restarting the process is the cure (a consumer that crashed for good);
 * - ready: red while the process cannot do its work — starting, a dependency unreachable, a
 *   consumer not running, steps failing for too long. It includes the liveness checks.
 */
export interface ProcessHealth {
  live(): Promise<HealthReport>;
  ready(): Promise<HealthReport>;
}

/** How long one check may take before it counts as failed (probes answer within it). */
export const HEALTH_CHECK_TIMEOUT_MS = 2000;

/** Runs the checks concurrently, each within `timeoutMs`. */
export async function runChecks(
  checks: Record<string, HealthCheck>,
  timeoutMs = HEALTH_CHECK_TIMEOUT_MS,
): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => [name, await bounded(check, timeoutMs)]),
  );
  const results = Object.fromEntries(entries) as Record<string, CheckResult>;
  return { ok: Object.values(results).every((r) => r.ok), checks: results };
}

async function bounded(check: HealthCheck, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  const answer = (async (): Promise<CheckResult> => {
    try {
      const answer = await check();
      return isCheckResult(answer) ? answer : { ok: true };
    } catch (err) {
      return { ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
  })();
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function isCheckResult(answer: unknown): answer is CheckResult {
  return (
    typeof answer === 'object' &&
    answer !== null &&
    typeof (answer as { ok?: unknown }).ok === 'boolean'
  );
}

/** A process's health from its checks: readiness runs the liveness checks too. */
export function processHealth(spec: {
  live: Record<string, HealthCheck>;
  ready: Record<string, HealthCheck>;
  detail?: () => unknown;
}): ProcessHealth {
  const withDetail = (report: HealthReport) =>
    spec.detail ? { ...report, detail: spec.detail() } : report;
  return {
    live: async () => withDetail(await runChecks(spec.live)),
    ready: async () => withDetail(await runChecks({ ...spec.live, ...spec.ready })),
  };
}

/** A process that checks nothing: always live and ready (what /healthz said before). */
export function alwaysHealthy(detail?: () => unknown): ProcessHealth {
  return processHealth({ live: {}, ready: {}, detail });
}

/**
 * A check whose answer is reused for `ms`: a probe that opens a connection (Kafka) runs at most
 * that often, however often the process is probed.
 */
export function cachedCheck(check: HealthCheck, ms: number): HealthCheck {
  let last: { at: number; result: Promise<CheckResult> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= ms)
      last = { at: now, result: bounded(check, HEALTH_CHECK_TIMEOUT_MS) };
    return last.result;
  };
}

/** Liveness of a group consumer: red once it crashed and will not restart. */
export function consumerAlive(status: () => ConsumerStatus): HealthCheck {
  return () => {
    const s = status();
    if (s.state === 'crashed')
      return { ok: false, detail: `crashed and not restarting: ${s.error ?? 'unknown error'}` };
  };
}

/** Readiness of a group consumer: red unless it is running (member of its group). */
export function consumerRunning(status: () => ConsumerStatus): HealthCheck {
  return () => {
    const s = status();
    if (s.state !== 'running')
      return { ok: false, detail: s.error ? `${s.state}: ${s.error}` : s.state };
  };
}

/**
 * The probe paths every ticks HTTP server answers (200 when ok, 503 when not, the report as
 * JSON), and the report each gives. /healthz is the older name, and means readiness.
 */
export const HEALTH_PATHS: Readonly<Record<string, (h: ProcessHealth) => Promise<HealthReport>>> = {
  '/livez': (h) => h.live(),
  '/readyz': (h) => h.ready(),
  '/healthz': (h) => h.ready(),
};
