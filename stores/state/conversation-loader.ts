import type { Result } from 'ioredis';
import { isCluster, type RedisClient } from '../redis/connect';
import type { ConversationKind } from '../../schemas/types';
import {
  hasLogLayout,
  hasOneKeyIndex,
  MetaField,
  PACKED_LOG_LAYOUT,
  type RedisKeys,
} from '../redis/keys';
import { MemberLog, parseLogField, type LogMove } from './member-log';
import { execPipeline, pipelineOf } from '../redis/pipeline';
import { defineScripts } from '../redis/script-loader';
import { ConversationState } from './conversation-state';
import { deliveredByField, logMoveOf, luaNumber, parseIndexEntry } from './stored-values';

type Flat = string[];
/** load-conversations-n.lua's reply for one conversation (see its header). */
type Snapshot = [
  ...[Flat, Flat, Flat, Flat, Flat, Flat, Flat, Flat, Flat, Flat[], Flat, Flat, Flat],
  log: Flat,
  logKeys: Array<string | Flat>,
  pttl: number,
];

/**
 * Conversations one load script call reads on a single Redis: enough that the call's own cost
 * is spread (it was the largest share of a load's Redis time), few enough that no call holds
 * Redis for long (~40 µs a conversation).
 */
export const LOADS_PER_CALL = 32;

/**
 * Loads the state of many conversations in one round trip (read-only script calls of up to
 * LOADS_PER_CALL conversations each, in one pipeline; one conversation a call on a Redis
 * Cluster, where each lives in its own slot), with the delivered-by-id hashes of the given
 * message ids.
 */
export async function loadConversations(
  redis: RedisClient,
  keys: RedisKeys,
  conversationIds: Iterable<string>,
  deliveredByIds: ReadonlyMap<string, Iterable<string>> = new Map(),
): Promise<Map<string, ConversationState>> {
  defineScripts(redis);
  const ids = [...new Set(conversationIds)];
  const dlvIds = ids.map((c) => [...new Set(deliveredByIds.get(c) ?? [])]);
  const perCall = isCluster(redis) ? 1 : LOADS_PER_CALL;
  const pipe = pipelineOf(redis);
  for (let from = 0; from < ids.length; from += perCall) {
    const chunk = ids.slice(from, from + perCall).map((c) => keys.conversation(c));
    const asked = dlvIds.slice(from, from + perCall).flatMap((m) => [m.length, ...m]);
    pipe.loadConversations(chunk.length, ...chunk, ...asked);
  }
  const snapshots = (await execPipeline(pipe)).flat() as Snapshot[];
  const readAt = Date.now();
  const states = new Map<string, ConversationState>();
  ids.forEach((c, i) =>
    states.set(c, toState(c, keys.conversation(c), snapshots[i]!, dlvIds[i]!, readAt)),
  );
  return states;
}

/**
 * Loads more delivered-by-id hashes into states already held (the engine asks for them with a
 * StateNotLoadedError, or the caller knows a window or receipt will need them): one round trip
 * of plain HGETALLs.
 */
export async function loadDeliveredBy(
  redis: RedisClient,
  requests: Array<{ state: ConversationState; messageIds: Iterable<string> }>,
): Promise<void> {
  const wanted = requests.flatMap(({ state, messageIds }) =>
    [...new Set(messageIds)].map((id) => ({ state, id })),
  );
  if (wanted.length === 0) return;
  const pipe = pipelineOf(redis);
  const asks = wanted.map(({ state, id }) => {
    // As helpers.lua deliveredBy: the hash of an older build first, then the conversation's.
    const older = state.olderKeys;
    if (older) pipe.hgetall(`${state.prefix}dlv:${id}`);
    const users = [...state.everyone()];
    if (users.length > 0)
      pipe.hmget(`${state.prefix}dlv`, ...users.map((u) => deliveredByField(id, u)));
    return { state, id, older, users };
  });
  const replies = (await execPipeline(pipe)) as unknown[];
  let next = 0;
  for (const { state, id, older, users } of asks) {
    const entries = new Map<string, string>();
    if (older)
      for (const [u, at] of Object.entries(replies[next++] as Record<string, string>))
        entries.set(u, at);
    if (users.length > 0) {
      const values = replies[next++] as Array<string | null>;
      users.forEach((u, i) => {
        if (values[i] !== null && !entries.has(u)) entries.set(u, values[i]!);
      });
    }
    state.loadDeliveredBy(id, entries);
  }
}

function toState(
  conversationId: string,
  prefix: string,
  snapshot: Snapshot,
  dlvIds: string[],
  readAt: number,
): ConversationState {
  const [meta, members, read, dlvd, msg, msgs, notified, win, held, dlv, deleted, marked, ix] =
    snapshot;
  const [log, logKeys, pttl] = [snapshot[13] ?? [], snapshot[14] ?? [], snapshot[15] ?? -2];
  const state = new ConversationState(conversationId, prefix);
  // When meta's expiry ends, on this process's clock (refreshCore derives when it was set).
  if (pttl >= 0) state.metaExpiresAt = readAt + pttl;
  // The legacy layout's keys (members, read, dlvd, notified): empty once a conversation is in meta.
  const legacy = [members, read, dlvd, notified].some((flat) => flat.length > 0);
  const metaMembers: string[] = [];
  forPairs(meta, (field, value) => {
    const user = field.slice(2);
    if (field.startsWith('m:')) metaMembers.push(user);
    else if (field.startsWith('r:')) raise(state, 'read', user, value);
    else if (field.startsWith('d:')) raise(state, 'dlvd', user, value);
    else if (field.startsWith('tr:') || field.startsWith('td:'))
      state.setNotified(field.slice(1), value);
    else if (field === 'kind') state.kind = value as ConversationKind;
    else if (field === 'last_seq') state.lastSeq = luaNumber(value) ?? 0;
    else if (field === 'last_msg') state.staleLastMsg = true;
    else if (field === 'last_at') state.lastAt = value;
    else if (field === 'touched') state.staleTouched = true;
    else if (field === 'uver') state.updateVersion = luaNumber(value) ?? 0;
  });
  // meta's members, once it has any, are the truth: a legacy set is not merged into them.
  for (const user of metaMembers.length > 0 ? metaMembers : members) state.addMember(user);
  forPairs(read, (user, seq) => raise(state, 'read', user, seq));
  forPairs(dlvd, (user, seq) => raise(state, 'dlvd', user, seq));
  state.legacyLayout = legacy;
  const layout = fieldOf(meta, MetaField.layout);
  state.olderKeys = (state.kind !== null || legacy) && !hasLogLayout(layout);
  // Today's layout: a conversation not created yet is created in it, one created before keeps
  // its index in msg/msgs until the first write moves it (conversationWrites).
  state.oneKeyIndex = hasOneKeyIndex(layout) || (state.kind === null && !legacy);
  // Members' logs: fields (PACKED_LOG_LAYOUT) for one created by this build; `log:<user>` keys,
  // to be moved into fields by the first write, for one created in LOG_LAYOUT or INDEX_LAYOUT;
  // kept in those keys for an older build's.
  const created = state.kind === null && !legacy;
  state.logsInFields = layout === PACKED_LOG_LAYOUT || created;
  state.logsToMove = !state.logsInFields && hasLogLayout(layout);
  if (layout === PACKED_LOG_LAYOUT) loadLogFields(state, state.kind === 'DIRECT' ? meta : log);
  else if (state.logsToMove) loadLogKeys(state, logKeys);
  forPairs(msg, (id, value) => state.setMessageValue(id, value));
  forPairs(msgs, (id, score) => state.indexMessage(id, Number(score)));
  // An entry that does not parse names no message any rule could use (as a msg value that
  // does not parse), and only an outside writer makes one: it is left where it is.
  forPairs(ix ?? [], (member, score) => {
    const m = parseIndexEntry(member);
    if (m) state.putMessage(m.messageId, Number(score), m.sender, m.sentAt);
  });
  // meta's marks are newer than a legacy hash's (a cut flush may leave both for a moment).
  forPairs(notified, (field, value) => {
    if (!state.notified.has(field)) state.setNotified(field, value);
  });
  forPairs(win, (field, value) => state.setWindowField(field, value));
  forPairs(held, (entry, deadline) => state.hold(entry, Number(deadline)));
  forPairs(deleted ?? [], (id, seq) => state.markDeleted(id, luaNumber(seq) ?? 0));
  forPairs(marked ?? [], (user, at) => state.markUnread(user, at));
  dlvIds.forEach((id, i) => {
    const entries: Array<[string, string]> = [];
    forPairs(dlv[i] ?? [], (user, at) => entries.push([user, at]));
    state.loadDeliveredBy(id, entries);
  });
  return state;
}

/** The members' logs of a hash's flat HGETALL reply (its 'l…:<user>' fields: member-log.ts). */
function loadLogFields(state: ConversationState, flat: Flat): void {
  const chunks = new Map<string, Array<{ kept: number | null; value: string }>>();
  forPairs(flat, (field, value) => {
    const f = parseLogField(field);
    if (!f) return;
    const own = chunks.get(f.userId) ?? [];
    own.push({ kept: f.kept, value });
    chunks.set(f.userId, own);
  });
  for (const [user, own] of chunks) state.loadMemberLog(MemberLog.fromFields(user, own));
}

/**
 * The members' `log:<user>` keys as read (flat user, entries, …), as MemberLogs: in seq order, a
 * kind's first move to a seq kept (the one a reader takes). An entry that does not parse (no
 * time) tells a reader nothing and is not carried over.
 */
function loadLogKeys(state: ConversationState, flat: Array<string | Flat>): void {
  for (let i = 0; i < flat.length; i += 2) {
    const user = flat[i] as string;
    const moves: LogMove[] = [];
    forPairs(flat[i + 1] as Flat, (member, score) => {
      const move = logMoveOf(member, Number(score));
      if (move) moves.push(move);
    });
    state.loadMemberLog(MemberLog.inSeqOrder(user, moves));
  }
}

/** A watermark as loaded: the highest of what meta and a legacy key hold (they only move up). */
function raise(
  state: ConversationState,
  which: 'read' | 'dlvd',
  user: string,
  value: string,
): void {
  const seq = luaNumber(value) ?? 0;
  const held = state[which].get(user);
  if (held === undefined || seq > held) state.setWatermark(which, user, seq);
}

function forPairs(flat: Flat, fn: (a: string, b: string) => void): void {
  for (let i = 0; i < flat.length; i += 2) fn(flat[i]!, flat[i + 1]!);
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    loadConversations(...args: Array<string | number>): Result<unknown, Context>;
  }
}

/** A field's value in a flat HGETALL reply (undefined when absent). */
function fieldOf(flat: string[], field: string): string | undefined {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === field) return flat[i + 1];
  return undefined;
}
