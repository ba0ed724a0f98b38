import { syncField } from '../../stores/state/stored-values';
import type { ProcessorContext } from '../../runtime/api';
import type { StateStep } from '../state-steps';
import type { VisibleBadge } from '../unread/visible-badge';
import type { UpdateEmitter } from './update-emitter';

/** One user's new unread figures in one conversation, for their devices. */
export interface UnreadSyncFigures {
  userId: string;
  conversationId: string;
  unread: number;
  readUpTo: number;
  /** The device whose read it was (it knows already), null when no device of theirs acted. */
  deviceId: string | null;
  /** The input record's timestamp. */
  sourceAt: number;
}

interface SyncDeps {
  emitter: UpdateEmitter;
  visibleBadge: VisibleBadge;
  nextVersion(conversationId: string): number;
  /**
   * The step: how far the user's devices were told read by acknowledged steps (a redo does
   * not tell them an older read again, with a newer version, after a newer one), and where a
   * sync told is recorded (remembered once the step's updates are acknowledged).
   */
  step: Pick<StateStep, 'syncedUpTo' | 'told'>;
}

/**
 * Tells each user's devices their new unread count and badge (a read, a mark as unread, a
 * deletion that lowered the count). `stored` are the users' badge sizes as the step's badge
 * write returned them; muted conversations are left out as the unread API leaves them. Versions
 * are taken as each sync goes out, so a conversation's versions rise in the order it is told.
 */
export async function tellUnreadSyncs(
  syncs: readonly UnreadSyncFigures[],
  stored: ReadonlyMap<string, number>,
  ctx: ProcessorContext,
  deps: SyncDeps,
): Promise<void> {
  await sendUnreadSyncs(decideUnreadSyncs(syncs, deps.step), stored, ctx, deps);
}

/**
 * The syncs to send — none below what acknowledged steps told the user's devices — with their
 * marks told now: they do not depend on the badge, so a step can write them ahead with its
 * direct updates' before it has the badge sizes (ProcessorContext.release).
 */
export function decideUnreadSyncs(
  syncs: readonly UnreadSyncFigures[],
  step: SyncDeps['step'],
): UnreadSyncFigures[] {
  const told = syncs.filter((s) => s.readUpTo >= step.syncedUpTo(s.conversationId, s.userId));
  for (const s of told) step.told?.([s.conversationId, syncField(s.userId), String(s.readUpTo)]);
  return told;
}

/** Sends syncs decided by decideUnreadSyncs, with the badge sizes `stored` gives. */
export async function sendUnreadSyncs(
  syncs: readonly UnreadSyncFigures[],
  stored: ReadonlyMap<string, number>,
  ctx: ProcessorContext,
  deps: SyncDeps,
): Promise<void> {
  if (syncs.length === 0) return;
  const counts = await deps.visibleBadge.counts(stored, ctx.now);
  for (const s of syncs) {
    deps.emitter.unreadSync(
      ctx,
      s.userId,
      {
        conversation_id: s.conversationId,
        unread_count: s.unread,
        badge_count: counts.get(s.userId) ?? 0,
        read_up_to_seq: s.readUpTo,
        origin_device_id: s.deviceId,
      },
      deps.nextVersion(s.conversationId),
      s.sourceAt,
    );
  }
}
