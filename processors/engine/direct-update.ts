import type { ReceiptStatus } from '../../schemas/types';
import { StateNotLoadedError, type ConversationState } from '../../stores/state/conversation-state';
import type { ConversationWrites } from '../../stores/state/conversation-writes';
import type { EngineStep } from './engine-step';
import {
  formatMark,
  markField,
  parseMark,
  type NotifiedMark,
} from '../../stores/state/stored-values';

/** Most messages the update lookup scans (the script's LIMIT 0 256). */
export const DIRECT_SCAN_LIMIT = 256;

type Told = 'read' | 'delivered';

/**
 * The readers' 'told up to' marks (`notified`: 'r:<reader>' / 'd:<reader>' =
 * "seq|version|message_id", stored as meta's 'tr:<reader>' / 'td:<reader>'), parsed once per
 * run as the script reads them once per call, and written where they move. A mark carries the
 * version (source offset) of the receipt that told. They expire with meta.
 */
export class TellingMarks {
  private readonly parsed = new Map<string, Record<Told, NotifiedMark>>();

  constructor(
    private readonly state: ConversationState,
    private readonly writes: ConversationWrites,
    /** Told each mark set (remembered across resets once the step's updates are out). */
    private readonly step: Pick<EngineStep, 'told'>,
  ) {}

  of(userId: string): Readonly<Record<Told, NotifiedMark>> {
    let marks = this.parsed.get(userId);
    if (!marks) {
      marks = {
        read: parseMark(this.state.notified.get(markField('read', userId))),
        delivered: parseMark(this.state.notified.get(markField('delivered', userId))),
      };
      this.parsed.set(userId, marks);
    }
    return marks;
  }

  tell(userId: string, which: Told, mark: NotifiedMark): void {
    this.of(userId);
    this.parsed.get(userId)![which] = mark;
    const field = markField(which, userId);
    const value = formatMark(mark);
    this.state.setNotified(field, value);
    this.writes.notified.set(field, value);
    this.step.told?.([this.state.conversationId, field, value]);
  }
}

export interface DirectUpdateInput {
  userId: string;
  peer: string;
  /** READ when the reader read and shares reads; DELIVERED otherwise. */
  status: ReceiptStatus;
  /** How far the receipt reaches: the new read watermark for a read, else its target. */
  upTo: number;
  /** Delivered by ids: only messages the reader confirmed by id count. */
  byIds: boolean;
  version: number;
}

/**
 * The update a direct chat's peer hears at once: its newest message this receipt covers, told
 * once. A read is told above what was told read; a delivery above what was told at all (read
 * implies delivered). Any other receipt at or below the mark tells nothing — the receipt that set
 * the mark too, seen again in a redo: a state is written only after its step's updates were
 * produced, so a mark found in Redis was told. Nor below a quiet floor (belowQuietFloor): marks
 * an earlier incarnation wrote ahead of updates it may have produced before it died. Telling it again would carry a new version and
 * could land after a later status told by a receipt that is not redone (one held until its
 * message came, released by a step already committed): the client would end on the older one.
 */
export function directUpdate(
  state: ConversationState,
  marks: TellingMarks,
  u: DirectUpdateInput,
): { messageId: string; seq: number; status: ReceiptStatus } | null {
  if (u.peer === '') return null;
  const own: Told = u.status === 'READ' ? 'read' : 'delivered';
  if (belowQuietFloor(state, u.userId, own, u.upTo)) return null;
  const mine = marks.of(u.userId);
  const floor = own === 'read' ? mine.read.seq : Math.max(mine.read.seq, mine.delivered.seq);
  if (u.upTo > floor) {
    for (const id of state.newest(u.upTo, floor, DIRECT_SCAN_LIMIT)) {
      const message = state.message(id);
      if (!message || message.sender !== u.peer) continue;
      if (u.byIds && !confirmedById(state, id, u.userId)) continue;
      marks.tell(u.userId, own, { seq: message.seq, version: u.version, messageId: id });
      return { messageId: id, seq: message.seq, status: u.status };
    }
  }
  return null;
}

/**
 * Whether an earlier incarnation may have told this reader more than the receipt reaches (its
 * marks written ahead, its state never written: told-ahead.ts): told now, it would carry a newer
 * version than the newer status the sender may hold. A read is quiet below the read floor; a
 * delivery below the delivered floor and at or below the read floor (read implies delivered).
 * At a floor the status is told again, with a new version: the same content, or what the
 * earlier incarnation never got out.
 */
function belowQuietFloor(
  state: ConversationState,
  userId: string,
  own: Told,
  upTo: number,
): boolean {
  const read = state.quietBelow(markField('read', userId));
  if (own === 'read') return upTo < read;
  return upTo <= read || upTo < state.quietBelow(markField('delivered', userId));
}

function confirmedById(state: ConversationState, messageId: string, userId: string): boolean {
  const by = state.deliveredBy(messageId);
  // deliveredByNeeded() loads these before the run: reaching here unloaded is a bug upstream.
  if (!by) throw new StateNotLoadedError(state.conversationId, [messageId]);
  return by.has(userId);
}
