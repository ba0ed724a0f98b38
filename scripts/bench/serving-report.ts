import type { LoadFigures } from './api-load';
import { int, mib, ms, num, type Row } from './report-format';
import { describePauses } from './process-pauses';
import type { ServingResult } from './serving-run';

const load = (f: LoadFigures) =>
  `${int(f.requestsPerSecond)} req/s, p50 ${ms(f.p50)} / p99 ${ms(f.p99)} ms${f.failed > 0 ? `, ${int(f.failed)} not 2xx` : ''}`;

/** The serving phase's figures, in the order of the table. */
export function servingRows(s: ServingResult): Row[] {
  const out: Row[] = [];
  const api = `${s.api.connections} connections, ${s.api.seconds} s each`;
  for (const e of s.api.endpoints)
    out.push({
      section: 'serving: query API',
      figure: `${e.name} (${e.request.split('?')[0]})`,
      value: `${load(e.endpoint)}; ${num(e.ratio)}× /healthz (${load(e.healthz)}); ${api}`,
      target: e.name.startsWith('unread')
        ? '≥ 0.5× /healthz'
        : e.name.startsWith('receipts')
          ? '≥ 0.6× /healthz'
          : undefined,
    });
  for (const f of s.api.fixedRate)
    out.push({
      section: 'serving: query API',
      figure: `${f.name} at ${int(f.offered)} req/s offered`,
      value: `${load(f.endpoint)}; the API process: ${describePauses(f.api)}`,
      target: 'p99 ≤ 20 ms',
    });
  const g = s.gateway;
  out.push(
    {
      section: 'serving: gateway',
      figure: 'connections held (users × devices)',
      value: `${int(g.connections)} (${int(g.users)} × ${g.devicesPerUser}), opened in ${num(g.connectSeconds, 1)} s`,
      target: '10,000',
    },
    {
      section: 'serving: gateway',
      figure: 'memory per connection (RSS / heap)',
      value: `${int(g.memory.bytesPerConnection)} / ${int(g.memory.heapPerConnection)} bytes (RSS ${mib(g.memory.rssBefore)} → ${mib(g.memory.rssAfter)})`,
    },
    {
      section: 'serving: gateway',
      figure: 'pushes delivered to sockets',
      value: `${int(g.pushes.deliveredPerSecond)} /s (${int(g.pushes.delivered)} of ${int(g.pushes.expected)}, ${int(g.pushes.offeredPerSecond)} /s offered)`,
      target: '≥ 20,000 /s',
    },
    {
      section: 'serving: gateway',
      figure: 'receipt_updates record → socket',
      value: `p50 ${ms(g.pushes.latency.p50)} / p99 ${ms(g.pushes.latency.p99)} / max ${ms(g.pushes.latency.max)} ms`,
      target: 'p99 ≤ 50 ms',
    },
    {
      section: 'serving: gateway',
      figure: `  the ${g.pushes.warmup.seconds} s of warm-up pushes before it (not in the figure above)`,
      value: `p50 ${ms(g.pushes.warmup.latency.p50)} / p99 ${ms(g.pushes.warmup.latency.p99)} / max ${ms(g.pushes.warmup.latency.max)} ms`,
    },
    {
      section: 'serving: gateway',
      figure: '  the gateway’s process during the timed pushes: event-loop lag; GC pauses',
      value: describePauses(g.pushes.gateway),
    },
    {
      section: 'serving: gateway',
      figure: 'slow consumers (paused sockets)',
      value: `${int(g.slow.dropped)} of ${int(g.slow.clients)} dropped (${int(g.slow.closedByGateway)} saw the close) after ${mib(g.slow.offeredBytesPerClient)} offered each; reading devices ${g.slow.readingDevicesServed ? 'got every update' : 'MISSED updates'}; RSS ${mib(g.slow.rssBefore)} → peak ${mib(g.slow.rssPeak)} (bound ${mib(g.slow.boundBytes)} buffered)`,
      target: 'all dropped, growth ≤ bound',
    },
  );
  return out;
}
