import { HeldAnswers } from './held-answers';

/**
 * One page as last answered: what the next request for it sends, and what it can give again
 * (Row and Answer: ReadModel's ConversationUnread and UnreadPage).
 */
export interface HeldUnreadPage<Row = unknown, Answer = unknown> {
  /** The listing the page was cut from (ids and index scores), as the page script joins it. */
  listing: Buffer;
  ids: readonly string[];
  lastAts: readonly number[];
  /** Each row with its conversation's revision (meta 'rev'; '' rows are not held). */
  rows: ReadonlyMap<string, { revision: string; row: Row }>;
  answer: Answer;
}

/** A page as held: with its rows' revisions as the page script takes them. */
export type HeldPage<Row, Answer> = HeldUnreadPage<Row, Answer> & { revisions: Buffer };

const SEPARATOR = Buffer.from([0xff]);
const HELD = Buffer.from('=');

/**
 * Conversation id, revision, … joined by byte 0xFF, which UTF-8 never holds (ids are UTF-8 of
 * any characters; revisions base64url): one argument of the page script, built once per held
 * page rather than on every request.
 */
function revisionsArgument(rows: HeldUnreadPage['rows']): Buffer {
  const parts: Buffer[] = [];
  for (const [id, { revision }] of rows) {
    if (parts.length > 0) parts.push(SEPARATOR);
    parts.push(Buffer.from(id), SEPARATOR, Buffer.from(revision));
  }
  return Buffer.concat(parts);
}

/**
 * A listing as the page script joins it to compare with the one it cuts: '=', then conversation
 * id, index score, … joined by byte 0xFF (the reply's strings, UTF-8 again). Built when a page is
 * read anew, not on every request.
 */
export function listingArgument(listed: readonly string[]): Buffer {
  const parts: Buffer[] = [HELD];
  listed.forEach((value, i) => {
    if (i > 0) parts.push(SEPARATOR);
    parts.push(Buffer.from(value));
  });
  return Buffer.concat(parts);
}

/**
 * Unread pages the query API answered, kept with what they were read from: the listing's
 * ids and scores and each conversation's revision (meta 'rev', which every content write replaces:
 * stores/redis/revision.ts). The next request for the page sends them; the page script answers
 * '=' for what is unchanged and only the rest is decoded and built — when nothing changed, the
 * held answer itself (the same object) is given again. Never staler than the state read in that
 * request's round trip. Bounded by rows held; least recently used pages leave first.
 */
export class HeldUnreadPages<Row, Answer> {
  private readonly pages: HeldAnswers<string, HeldPage<Row, Answer>>;

  constructor(maxRows = 100_000) {
    this.pages = new HeldAnswers(maxRows, (page) => Math.max(1, page.rows.size));
  }

  get(page: string): HeldPage<Row, Answer> | undefined {
    return this.pages.get(page);
  }

  hold(page: string, held: HeldUnreadPage<Row, Answer>): void {
    this.pages.set(page, { ...held, revisions: revisionsArgument(held.rows) });
  }
}
