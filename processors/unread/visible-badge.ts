import type { ReadModel } from '../../stores/redis/read-model';

/** The user's conversations muted at `now` → until (null: until unmuted): the settings table. */
export type MutedConversations = (userId: string, now: number) => ReadonlyMap<string, unknown>;

/**
 * The badge as its user sees it, the rule of `GET /v1/me/unread`: the stored badge keeps every
 * source (a mute changes no Redis state), and the sources of conversations muted at the time of
 * asking are left out. A pushed unread sync carries this count, so it agrees with the API at the
 * time it is made; a mute that ends later pushes nothing by itself (the next sync, or a fetch of
 * the unread endpoint at `muted_until`, shows the source again).
 */
export class VisibleBadge {
  constructor(
    private readonly readModel: Pick<ReadModel, 'badge' | 'badgeSourcesOf'>,
    private readonly mutedConversations: MutedConversations,
  ) {}

  /**
   * `stored` (user → stored badge size) as the users see it at `now`. No round trip for users
   * with nothing muted; for the others, their badge and their muted conversations' sources.
   */
  async counts(stored: ReadonlyMap<string, number>, now: number): Promise<Map<string, number>> {
    const visible = new Map(stored);
    await Promise.all(
      [...stored.keys()].map(async (userId) => {
        const muted = [...this.mutedConversations(userId, now).keys()];
        if (muted.length === 0) return;
        const [badge, hidden] = await Promise.all([
          this.readModel.badge(userId),
          this.readModel.badgeSourcesOf(muted, userId),
        ]);
        visible.set(userId, badge.filter((source) => !hidden.has(source)).length);
      }),
    );
    return visible;
  }
}
