import type { MemberChange, MemberChangedResult } from '../../stores/redis/conversation-store';
import type { ConversationState } from '../../stores/state/conversation-state';
import { conversationWrites } from '../../stores/state/conversation-writes';
import { formatNumber } from '../../stores/state/stored-values';
import type { EngineStep } from './engine-step';
import { refreshCore } from './refresh-core';

/**
 * members-changed-1.lua over memory: consecutive member events of one conversation, in order,
 * as if each were applied alone.
 *
 * - The first join of an unknown conversation gives it its kind (a removal's kind never does).
 * - A joiner starts with everything sent before it joined read and delivered, with HSETNX
 *   semantics, not a max: a replay of the join after later messages must not mark those
 *   messages read. Every user added in the run counts, even one removed again later in it.
 * - Any removal in the run (even of a non-member) forces the expiry refresh, as the script does.
 * The result is the same for every change of the run: member events change neither the kind
 * once known, nor the messages, nor the held receipts.
 */
export function applyMemberChanges(
  state: ConversationState,
  changes: readonly MemberChange[],
  step: EngineStep,
): MemberChangedResult {
  if (changes.length === 0) throw new RangeError('applyMemberChanges takes at least one change');
  const writes = conversationWrites(state, step.writes, step.ttlSeconds);
  const isNew = state.kind === null;
  let kind = state.kind;
  const lastSeq = state.lastSeq;

  const joined = new Set<string>();
  let removed = false;
  for (const change of changes) {
    if (change.op === 'add') {
      if (state.addMember(change.userId)) writes.members.add(change.userId);
      kind ??= change.kind;
      joined.add(change.userId);
    } else {
      removed = true;
      if (state.removeMember(change.userId)) writes.members.remove(change.userId);
    }
  }
  if (isNew && kind !== null) {
    state.kind = kind;
    writes.create(kind);
  }

  const start = formatNumber(lastSeq);
  for (const user of joined) {
    if (!state.read.has(user)) {
      state.setWatermark('read', user, lastSeq);
      writes.read.set(user, start);
    }
    if (!state.dlvd.has(user)) {
      state.setWatermark('dlvd', user, lastSeq);
      writes.dlvd.set(user, start);
    }
  }

  refreshCore(state, writes, step, isNew || removed);
  return { kind: kind ?? changes[0]!.kind, hasHeld: state.hasHeld, lastSeq };
}
