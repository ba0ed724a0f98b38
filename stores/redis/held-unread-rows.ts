import type { ConversationUnread } from './read-model';

type Row = Omit<ConversationUnread, 'lastAt'>;

/**
 * Unread rows the query API computed, kept with the conversation's revision (meta 'rev', which
 * every content write replaces: stores/redis/revision.ts) for the page they were on. The next
 * request for that page sends the revisions; the page script skips the count of each
 * conversation whose revision is unchanged and the row held is used: a row is never staler than
 * the state read in that request's round trip. Bounded by rows held; least recently used pages
 * leave first.
 */
export class HeldUnreadRows {
  private readonly pages = new Map<string, Map<string, { revision: string; row: Row }>>();
  private rows = 0;

  constructor(private readonly maxRows = 100_000) {}

  /** The held revisions of a page, flat (conversation id, revision, …), for the page script. */
  revisionsOf(page: string): string[] {
    const held = this.pages.get(page);
    if (!held) return [];
    const flat: string[] = [];
    for (const [conversationId, { revision }] of held) flat.push(conversationId, revision);
    return flat;
  }

  /** The row held for a conversation of the page, with its revision. */
  held(page: string, conversationId: string): { revision: string; row: Row } | undefined {
    return this.pages.get(page)?.get(conversationId);
  }

  /** Replaces what is held for the page by its rows as answered now (revision '' is not held). */
  hold(page: string, rows: ReadonlyArray<{ revision: string; row: Row }>): void {
    this.forget(page);
    const held = new Map<string, { revision: string; row: Row }>();
    for (const r of rows) if (r.revision !== '') held.set(r.row.conversationId, r);
    if (held.size === 0) return;
    this.pages.set(page, held);
    this.rows += held.size;
    for (const [oldest] of this.pages) {
      if (this.rows <= this.maxRows) break;
      this.forget(oldest);
    }
  }

  private forget(page: string): void {
    const held = this.pages.get(page);
    if (!held) return;
    this.pages.delete(page);
    this.rows -= held.size;
  }
}
