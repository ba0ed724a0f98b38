import type { ReceiptInput } from '../../stores/redis/conversation-store';
import type { ConversationState } from '../../stores/state/conversation-state';
import { markField, markSeq } from '../../stores/state/stored-values';
import { DIRECT_SCAN_LIMIT } from './direct-update';
import { peerOf, resolveTarget } from './receipt-target';

/**
 * The message ids whose deliveries by id (`dlv`) a run of receipts may read and that
 * are not in memory: every id of a delivered-by-ids receipt (HSETNX needs to know who is there)
 * and, in a direct chat, the peer's messages the update lookup may test before it finds one
 * the reader confirmed. An over-approximation (the marks only rise during the run, which only
 * shortens the lookup), computed before anything changes, so the caller can load them and
 * apply the run whole.
 */
export function deliveredByNeeded(
  state: ConversationState,
  receipts: readonly ReceiptInput[],
): string[] {
  const needed = new Set<string>();
  const need = (id: string) => {
    if (!state.deliveredBy(id)) needed.add(id);
  };
  const direct = state.kind === 'DIRECT';
  for (const r of receipts) {
    if (r.command.type !== 'dlv_ids' || !state.members.has(r.userId)) continue;
    const resolved = resolveTarget(state, r.command, state.lastSeq);
    if ('held' in resolved) continue;
    for (const [id] of resolved.ids) need(id);
    if (!direct) continue;
    const peer = peerOf(state.members, r.userId);
    const floor = Math.max(
      markSeq(state.notified.get(markField('read', r.userId))),
      markSeq(state.notified.get(markField('delivered', r.userId))),
    );
    if (peer === '' || resolved.target <= floor) continue;
    const own = new Set(resolved.ids.map(([id]) => id));
    for (const id of state.newest(resolved.target, floor, DIRECT_SCAN_LIMIT)) {
      if (state.message(id)?.sender !== peer) continue;
      // Confirmed by this very receipt, or known confirmed (entries are never removed): found.
      if (own.has(id) || state.deliveredBy(id)?.has(r.userId)) break;
      need(id);
    }
  }
  return [...needed];
}
