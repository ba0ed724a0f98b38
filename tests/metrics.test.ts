import { alwaysHealthy } from '../runtime/health';
import { MetricsServer } from '../runtime/metrics-server';
import { createHarness, eventually, type Harness } from './support/harness';

describe('metrics on /metrics during a run', () => {
  let h: Harness;
  let server: MetricsServer;
  let port: number;
  beforeAll(async () => {
    h = await createHarness();
    server = new MetricsServer(
      h.pipeline.metrics.registry,
      alwaysHealthy(() => ({ partitions: h.pipeline.ownedPartitions })),
    );
    port = await server.listen(0);
  });
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  it('exposes the pipeline counters with conventional names once traffic flowed', async () => {
    const c = 'metrics-group';
    for (const m of ['a', 'b', 'c']) h.publish.memberAdded(c, m, 'GROUP');
    h.publish.messageSent(c, { messageId: 'm1', seq: 1, senderId: 'a', kind: 'GROUP' });
    h.publish.raw('receiptEvents', c, Buffer.from('garbage'));
    h.publish.read(c, 'b', { seq: 1 });
    await h.publish.flush();
    await eventually('summary', () => h.out.updatesFor('a', 'GroupSenderSummary')[0], 10_000);

    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const name of [
      'ticks_events_in_total{topic="conversation_events",type="message_sent",outcome="applied"} 1',
      'ticks_dead_letters_total{reason="UNDECODABLE"} 1',
      'ticks_updates_emitted_total{kind="group_summary"} 1',
      'ticks_group_receipts_absorbed_total 1',
      'ticks_group_pushes_unwindowed_total{window_receipts="1"} 1',
      'ticks_group_pushes_sent_total{window_receipts="1"} 1',
      'ticks_window_close_delay_seconds_count 1',
      'ticks_badge_changes_total{op="add"}',
      'ticks_badge_dedupe_total{result="miss"}',
      'ticks_batch_duration_seconds_bucket',
      'ticks_event_to_emit_seconds_bucket{le="2.5",kind="group_summary"} 1',
      'ticks_consumer_lag_records{topic=',
      'ticks_process_resident_memory_bytes',
    ])
      expect(text).toContain(name);

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true });
  });
});
