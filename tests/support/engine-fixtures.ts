import type { EngineStep } from '../../processors/engine/engine-step';
import type { ConversationKind } from '../../schemas/types';
import type { ReceiptCommand, ReceiptInput } from '../../stores/redis/conversation-store';
import { MetaField } from '../../stores/redis/keys';
import { ConversationState } from '../../stores/state/conversation-state';
import { WriteSet, type RedisCommand } from '../../stores/state/write-set';

export const PREFIX = 't:{c:c1}:';
export const TTL = 3600;
/** A clock far from 0: a conversation never touched is due for its expiry refresh. */
export const NOW = 10_000_000;

export interface StateSpec {
  kind?: ConversationKind;
  members?: string[];
  read?: Record<string, number>;
  dlvd?: Record<string, number>;
  /** [id, seq, sender]; last_seq follows the highest. */
  messages?: Array<[string, number, string]>;
  notified?: Record<string, string>;
  window?: Record<string, string>;
  /** message id → users who confirmed it by id; listed ids are loaded (empty: loaded, none). */
  deliveredBy?: Record<string, string[]>;
  hasHeld?: boolean;
  touched?: number;
  /**
   * Loaded from a layout with the message index in `msg` and `msgs`: 'log' (LOG_LAYOUT, moved into
   * `ix` by the next write) or 'older' (no layout mark, kept where it is). Default: today's, `ix`.
   */
  indexIn?: 'log' | 'older';
}

/** A conversation's state as a loader would have built it from what the scripts wrote. */
export function stateOf(spec: StateSpec = {}): ConversationState {
  const s = new ConversationState('c1', PREFIX);
  s.kind = spec.kind ?? null;
  for (const m of spec.members ?? []) s.addMember(m);
  for (const [u, seq] of Object.entries(spec.read ?? {})) s.setWatermark('read', u, seq);
  for (const [u, seq] of Object.entries(spec.dlvd ?? {})) s.setWatermark('dlvd', u, seq);
  for (const [id, seq, sender] of spec.messages ?? []) {
    s.putMessage(id, seq, sender, String(1000 + seq));
    if (seq > s.lastSeq) [s.lastSeq, s.lastAt] = [seq, String(1000 + seq)];
  }
  for (const [f, v] of Object.entries(spec.notified ?? {})) s.setNotified(f, v);
  for (const [f, v] of Object.entries(spec.window ?? {})) s.setWindowField(f, v);
  for (const [id, users] of Object.entries(spec.deliveredBy ?? {}))
    s.loadDeliveredBy(
      id,
      users.map((u) => [u, '1']),
    );
  if (spec.hasHeld) s.hold('a held receipt', NOW + 30_000);
  // Refreshed at `touched`: meta expires a TTL later.
  s.metaExpiresAt = spec.touched === undefined ? null : spec.touched + TTL * 1000;
  if (spec.indexIn) s.oneKeyIndex = false;
  // Logs in `log:<user>` keys: moved into fields by the next write (LOG_LAYOUT), or kept (older).
  if (spec.indexIn) s.logsInFields = false;
  if (spec.indexIn === 'log') s.logsToMove = true;
  if (spec.indexIn === 'older') s.olderKeys = true;
  return s;
}

/**
 * A group of four where three members sent: m1 ana, m2 bo, m3 cy, m4 ana; each sender has read
 * up to their own message, dee nothing (receipts covering several senders).
 */
export function groupOfThreeSenders(extra: StateSpec = {}): ConversationState {
  return stateOf({
    kind: 'GROUP',
    members: ['ana', 'bo', 'cy', 'dee'],
    read: { ana: 4, bo: 2, cy: 3, dee: 0 },
    dlvd: { ana: 4, bo: 2, cy: 3, dee: 0 },
    messages: [
      ['m1', 1, 'ana'],
      ['m2', 2, 'bo'],
      ['m3', 3, 'cy'],
      ['m4', 4, 'ana'],
    ],
    ...extra,
  });
}

export function stepAt(now = NOW): EngineStep {
  return { writes: new WriteSet(), ttlSeconds: TTL, now, maxIndexedMessages: 2000 };
}

/**
 * The step's commands, keys without the conversation prefix, for short expectations; meta's
 * 'rev' (a token unique to each write: write-set.test.ts proves it) left out of its HSET.
 */
export function commandsOf(step: EngineStep): RedisCommand[] {
  return step.writes
    .commands({ atomic: false })
    .map(([name, key = '', ...args]): RedisCommand => {
      const short = key.slice(PREFIX.length);
      if (name === 'hset' && short === 'meta' && args[0] === MetaField.revision) args.splice(0, 2);
      return [name, short, ...args];
    })
    .filter(([name, key, ...args]) => !(name === 'hset' && key === 'meta' && args.length === 0));
}

/** The keys the step expires. */
export function expired(step: EngineStep): string[] {
  return commandsOf(step)
    .filter((c) => c[0] === 'expire')
    .map((c) => c[1] ?? '');
}

let version = 0;

export function receipt(
  userId: string,
  command: ReceiptCommand,
  options: Partial<Omit<ReceiptInput, 'userId' | 'command'>> = {},
): ReceiptInput {
  const v = options.version ?? ++version + 100;
  return {
    userId,
    at: 5000 + v,
    shareRead: true,
    version: v,
    sourceAt: 9000 + v,
    command,
    ...options,
  };
}
