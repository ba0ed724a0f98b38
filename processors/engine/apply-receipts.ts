import type { ReceiptStatus } from '../../schemas/types';
import type { ReceiptInput, ReceiptResult } from '../../stores/redis/conversation-store';
import { StateNotLoadedError, type ConversationState } from '../../stores/state/conversation-state';
import { conversationWrites } from '../../stores/state/conversation-writes';
import { memberLogSuffix } from '../../stores/redis/keys';
import { deliveredByField, formatNumber, logEntry } from '../../stores/state/stored-values';
import { deliveredByNeeded } from './delivered-by-needed';
import { directUpdate, TellingMarks } from './direct-update';
import type { EngineStep } from './engine-step';
import { peerOf, resolveTarget } from './receipt-target';
import { expiryRefreshMs, refreshCore } from './refresh-core';
import { sendersCovered, WindowFold, type SeqRange } from './window-fold';

type Applied = Extract<ReceiptResult, { applied: true }>;

/**
 * apply-receipts-1.lua over memory: a run of one conversation's receipts, in order, as if each
 * were applied alone — read up to a seq (or a message), delivered up to a seq, delivered by ids.
 *
 * - Held, marking nothing: a reader who is not a member (NOT_A_MEMBER), a seq beyond the last
 *   message (SEQ_NOT_REACHED), an id the index does not know (UNKNOWN_MESSAGE).
 * - Watermarks only move forward: a duplicate, replayed or backwards receipt changes nothing
 *   (`changed` false). A read moves the delivered watermark too (read implies delivered).
 * - Each move appends to the reader's log (member-log.ts: a few characters in a field of meta for
 *   a direct chat, of `log` for a group; an older build's conversation keeps `log:<user>`, its
 *   time packed with the seq into one integer, stored-values.ts logEntry); a delivery
 *   by ids records who confirmed each message (`dlv`: a field per message and user, first time
 *   kept).
 * - Direct chats: the peer hears at once (directUpdate); groups: the changed seq ranges fold
 *   into the open window with the senders the receipt newly covers (sendersCovered: those a
 *   non-shared read only delivered, or a delivery by id already below the delivered watermark,
 *   are not), and every applied result says whether a window is open after the run.
 * - Mark as unread (mark_unread, the engine's only): the reader's flag is set (`marked`), no
 *   watermark moves, nobody is told; its unread shows at least 1. Their next read (any applied
 *   read, even one that moves nothing) clears it (`unreadMark` says when either happened).
 * An unknown conversation counts as a group. Throws StateNotLoadedError, having changed nothing,
 * when delivered-by-id state the run needs is not loaded (see deliveredByNeeded).
 */
export function applyReceipts(
  state: ConversationState,
  receipts: readonly ReceiptInput[],
  step: EngineStep,
): ReceiptResult[] {
  if (receipts.length === 0) return [];
  const missing = deliveredByNeeded(state, receipts);
  if (missing.length > 0) throw new StateNotLoadedError(state.conversationId, missing);

  const writes = conversationWrites(state, step.writes, step.ttlSeconds);
  const kind = state.kind ?? 'GROUP';
  const direct = kind === 'DIRECT';
  const lastSeq = state.lastSeq;
  const marks = new TellingMarks(state, writes, step);
  const window = new WindowFold();
  const hadMarked = state.marked.size > 0;
  const ttl = step.ttlSeconds;
  const refreshMs = expiryRefreshMs(ttl);
  // A log or delivered-by hash this step writes to gets its expiry when it was not refreshed
  // lately (not on every write: an active reader's log would cost an EXPIRE per receipt).
  const expireWhenDue = (key: { expire(seconds: number): void }, suffix: string) => {
    if (state.refreshExpiry(suffix, step.now, refreshMs)) key.expire(ttl);
  };
  // A watermark move goes to the member's log: fields of meta or `log` (member-log.ts), or an
  // older build's key of the member's own (both kinds in one key: stored-values logEntry).
  const logMove = (user: string, which: 'read' | 'delivered', seq: number, at: string) => {
    if (state.logsInFields) {
      const hash = writes.logFields(
        state.kind,
        state.logMove(user, { which, seq, at: Number(at) }),
      );
      if (hash) expireWhenDue(hash, 'log');
      return;
    }
    const log = writes.memberLog(user);
    const entry = logEntry(which, seq, at);
    log.add(entry.score, entry.member);
    expireWhenDue(log, memberLogSuffix(user));
  };

  const results: ReceiptResult[] = [];
  const applied: Applied[] = [];
  for (const r of receipts) {
    const user = r.userId;
    if (!state.members.has(user)) {
      results.push({ applied: false, reason: 'NOT_A_MEMBER' });
      continue;
    }
    if (r.command.type === 'mark_unread') {
      const marked = state.markUnread(user, String(r.at));
      if (marked) writes.marked.set(user, String(r.at));
      const read = state.read.get(user) ?? 0;
      const result: Applied = {
        applied: true,
        kind,
        oldRead: read,
        newRead: read,
        unread: Math.max(1, state.countAfter(read)),
        atEnd: false,
        peer: direct ? peerOf(state.members, user) || null : null,
        push: null,
        windowOpen: false,
        lastSeq,
        changed: false, // no watermark: the flag is logged apart (unreadMark)
        read,
        delivered: state.dlvd.get(user) ?? 0,
        newlyDeliveredIds: [],
      };
      if (marked) result.unreadMark = 'set';
      results.push(result);
      applied.push(result);
      continue;
    }
    const resolved = resolveTarget(state, r.command, lastSeq);
    if ('held' in resolved) {
      results.push({ applied: false, reason: resolved.held });
      continue;
    }
    const { type, target } = resolved;
    const at = String(r.at);
    let oldRead = 0;
    let newRead = 0;
    const newIds: string[] = [];
    const ranges: SeqRange[] = [];
    // What a sender can see changed (groups: whom the direct-chat rule would tell).
    let seen: SeqRange[] = ranges;
    let status: ReceiptStatus = 'DELIVERED';
    let cleared = false;

    if (type === 'read') {
      oldRead = state.read.get(user) ?? 0;
      newRead = Math.max(oldRead, target);
      const oldDlvd = state.dlvd.get(user) ?? 0;
      if (newRead > oldRead) {
        state.setWatermark('read', user, newRead);
        writes.read.set(user, formatNumber(newRead));
      }
      if (newRead > oldDlvd) {
        state.setWatermark('dlvd', user, newRead);
        writes.dlvd.set(user, formatNumber(newRead));
      }
      if (newRead > oldRead || newRead > oldDlvd) {
        ranges.push([Math.min(oldRead, oldDlvd), newRead]);
        logMove(user, 'read', newRead, at);
      }
      if (state.clearUnreadMark(user)) {
        writes.marked.delete(user);
        cleared = true;
      }
      if (r.shareRead) status = 'READ';
      // A read that is not shared shows only as the deliveries it implies.
      else seen = newRead > oldDlvd ? [[oldDlvd, newRead]] : [];
    } else if (type === 'dlv_seq') {
      const oldDlvd = state.dlvd.get(user) ?? 0;
      if (target > oldDlvd) {
        state.setWatermark('dlvd', user, target);
        writes.dlvd.set(user, formatNumber(target));
        ranges.push([oldDlvd, target]);
        logMove(user, 'delivered', target, at);
      }
    } else {
      for (const [id, seq] of resolved.ids) {
        if (state.markDelivered(id, user, at)) {
          const by = writes.deliveredBy;
          by.set(deliveredByField(id, user), at);
          expireWhenDue(by, 'dlv');
          newIds.push(id);
          ranges.push([seq - 1, seq]);
        }
      }
      // A message already below the delivered watermark was counted as delivered before.
      const dlvd = state.dlvd.get(user) ?? 0;
      seen = ranges.filter(([, seq]) => seq > dlvd);
    }

    let peer = '';
    let push: Applied['push'] = null;
    if (direct) {
      peer = peerOf(state.members, user);
      push = directUpdate(state, marks, {
        userId: user,
        peer,
        status,
        upTo: type === 'read' ? newRead : target,
        byIds: type === 'dlv_ids',
        version: r.version,
      });
    } else if (ranges.length > 0) {
      window.add(ranges, sendersCovered(state, seen, user), r.version, r.sourceAt);
    }

    const result: Applied = {
      applied: true,
      kind,
      oldRead,
      newRead,
      unread: type === 'read' ? state.countAfter(newRead) : 0,
      atEnd: type === 'read' && newRead >= lastSeq,
      peer: peer || null,
      push,
      windowOpen: false, // known once the whole run is folded in
      lastSeq,
      changed: ranges.length > 0,
      read: state.read.get(user) ?? 0,
      delivered: state.dlvd.get(user) ?? 0,
      newlyDeliveredIds: newIds,
    };
    if (cleared) result.unreadMark = 'cleared';
    results.push(result);
    applied.push(result);
  }

  const windowOpen = direct ? false : window.apply(state, writes, ttl);
  for (const result of applied) result.windowOpen = windowOpen;
  // Only a conversation that took a receipt is kept alive (held ones may name no conversation yet).
  // A `marked` hash created by this run joins the core keys' expiry now.
  if (applied.length > 0) refreshCore(state, writes, step, !hadMarked && state.marked.size > 0);
  return results;
}
