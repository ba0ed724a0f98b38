import type { ConversationSuffix } from '../redis/keys';
import type { HashWrites, SetWrites, SortedSetWrites, WriteSet } from './write-set';

/**
 * Flush order of a conversation's keys (WriteSet sends lower ranks first). What tells a replay
 * that a receipt was applied goes last — the watermarks, and who confirmed delivery by id
 * (`dlv:<id>`): until those are written, a replay of the step applies its receipts again and
 * redoes what they derive (logs, marks, the group window). Written before the window, a
 * delivered-by-id entry would make the replay see an old confirmation and leave its range out
 * of the window for good. meta goes just before them: its last_seq and kind decide whether a
 * replayed message or member event refreshes the expiry of keys it creates.
 * Order alone does not make a cut flush safe (see WriteSet): by default each conversation's
 * writes also go as one transaction; the order still holds within it and for a plain flush.
 */
export const ConversationRank = { Data: 0, Meta: 1, Watermarks: 2 } as const;

/**
 * The WriteSet handles of one conversation's keys, named as the Lua scripts name them (the key
 * prefix, then 'meta', 'read', 'dlv:<id>', …) so that readers find what the scripts would have
 * written.
 */
export class ConversationWrites {
  // Handles of the core keys, found once per run rather than on every write.
  private metaWrites?: HashWrites;
  private membersWrites?: SetWrites;
  private readWrites?: HashWrites;
  private dlvdWrites?: HashWrites;
  private msgWrites?: HashWrites;
  private msgsWrites?: SortedSetWrites;
  private notifiedWrites?: HashWrites;
  private winWrites?: HashWrites;
  private deletedWrites?: HashWrites;
  private markedWrites?: HashWrites;

  constructor(
    private readonly writes: WriteSet,
    private readonly prefix: string,
  ) {}

  get meta(): HashWrites {
    return (this.metaWrites ??= this.writes.hash(this.key('meta'), ConversationRank.Meta));
  }

  get members(): SetWrites {
    return (this.membersWrites ??= this.writes.set(this.key('members')));
  }

  get read(): HashWrites {
    return (this.readWrites ??= this.writes.hash(this.key('read'), ConversationRank.Watermarks));
  }

  get dlvd(): HashWrites {
    return (this.dlvdWrites ??= this.writes.hash(this.key('dlvd'), ConversationRank.Watermarks));
  }

  get msg(): HashWrites {
    return (this.msgWrites ??= this.writes.hash(this.key('msg')));
  }

  get msgs(): SortedSetWrites {
    return (this.msgsWrites ??= this.writes.sortedSet(this.key('msgs')));
  }

  get notified(): HashWrites {
    return (this.notifiedWrites ??= this.writes.hash(this.key('notified')));
  }

  get win(): HashWrites {
    return (this.winWrites ??= this.writes.hash(this.key('win')));
  }

  /** Deleted message ids → seq: a receipt naming one is refused, its details answer 404. */
  get deleted(): HashWrites {
    return (this.deletedWrites ??= this.writes.hash(
      this.key('deleted'),
      ConversationRank.Watermarks,
    ));
  }

  /** Members who marked the conversation unread (cleared by their next read). */
  get marked(): HashWrites {
    return (this.markedWrites ??= this.writes.hash(
      this.key('marked'),
      ConversationRank.Watermarks,
    ));
  }

  /** Who confirmed delivery of one message by id (a watermark by id: ranked with them). */
  deliveredBy(messageId: string): HashWrites {
    return this.writes.hash(`${this.prefix}dlv:${messageId}`, ConversationRank.Watermarks);
  }

  /** A reader's read log ("seq|at" scored by seq), for receipt details. */
  readLog(userId: string): SortedSetWrites {
    return this.writes.sortedSet(`${this.prefix}readlog:${userId}`);
  }

  /** A reader's delivered-up-to log. */
  deliveredLog(userId: string): SortedSetWrites {
    return this.writes.sortedSet(`${this.prefix}dlvlog:${userId}`);
  }

  private key(suffix: ConversationSuffix): string {
    return this.prefix + suffix;
  }
}
