import type { MemoryEstimate } from './redis-probe';

/** One row of the memory section: a kind of key, its bytes per message and share of the total. */
export interface KindRow {
  figure: string;
  value: string;
}

const KIND_NAMES: Record<string, string> = {
  'c:ix': 'message index (message, sender, sent_at by seq; one key)',
  'c:msgs': 'message index by seq (older layout; now in ix)',
  'c:msg': 'message hash (older layout; now in ix)',
  'c:log':
    "a group's members' read and delivered logs, short fields of one hash (a key per member before)",
  'c:readlog': 'read log per member (older layout; now in log)',
  'c:dlvlog': 'delivered log per member (older layout; now in log)',
  'c:dlv':
    'deliveries by id of a conversation ((message, member) → time; one key per message before)',
  'c:notified': 'told-up-to marks (older layout; now in meta)',
  'c:meta':
    "conversation meta, members, their watermarks and told-up-to marks; a direct chat's logs",
  'c:win': 'open group window',
  'c:held': 'held receipts',
  'u:badge': 'badge (unread sources; older layout, now in recent)',
  'u:recent': 'user’s conversations by latest message, then the badge (unread sources)',
  'p:windows': 'partition: open windows index',
  'p:held': 'partition: held receipts index',
  'p:lease': 'partition lease',
  'p:told': 'partition: marks told ahead of state writes still in flight',
  layout: 'what the keyspace is proven to no longer hold (one key)',
};

/**
 * Main-Redis bytes per message of state, by kind of key (largest first), so the cost of each
 * structure shows: bytes per message, share of the total, keys, and the share of keys without
 * an expiry (those stay until something deletes them).
 */
export function memoryByKind(memory: MemoryEstimate, messages: number): KindRow[] {
  return Object.entries(memory.byKind)
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .map(([kind, k]) => ({
      figure: `  ${kind}${KIND_NAMES[kind] ? ` — ${KIND_NAMES[kind]}` : ''}`,
      value: [
        `${fixed(k.bytes / messages, 1)} B/message`,
        `${fixed((100 * k.bytes) / Math.max(1, memory.bytes), 1)} %`,
        `${k.keys.toLocaleString('en-US')} keys of ${fixed(k.bytes / Math.max(1, k.keys), 0)} B`,
        `${fixed(100 * k.withoutExpiry, 0)} % without expiry`,
      ].join(', '),
    }));
}

function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}
