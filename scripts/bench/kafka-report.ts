import { int, num, type Row } from './report-format';
import type { TopicBytes } from './topic-bytes';

/**
 * The Kafka rows of the table: each topic of the run on the brokers' disks (one replica), per
 * input event of the drain, and per record. Input topics hold what producers send; the others
 * what ticks writes (receipt_updates, the state_changes changelog, dead letters).
 */
export function kafkaRows(kafka: { events: number; topics: Record<string, TopicBytes> }): Row[] {
  const topics = Object.entries(kafka.topics);
  const total = topics.reduce((sum, [, t]) => sum + t.bytes, 0);
  return [
    ...topics.map(([name, t]) => ({
      section: 'kafka',
      figure: `  ${name}: bytes per drain event / records / bytes per record`,
      value: `${num(t.bytes / kafka.events, 1)} / ${int(t.records)} / ${num(t.bytes / Math.max(1, t.records), 1)} (${int(t.bytes)} B on disk, ${t.replicas} replica${t.replicas === 1 ? '' : 's'} found)`,
    })),
    {
      section: 'kafka',
      figure: 'all topics of the run: bytes on disk per drain event (one replica)',
      value: `${num(total / kafka.events, 1)} (${int(total)} B for ${int(kafka.events)} events)`,
    },
  ];
}
