import type {
  MemberChange,
  ReceiptCommand,
  ReceiptInput,
  SentMessage,
} from '../../stores/redis/conversation-store';
import type { ConversationKind } from '../../schemas/types';
import type { SeededRandom } from '../../scripts/traffic/random';
import type { DeletedMessage } from '../../processors/engine/messages-deleted';

/** One store call's worth of a conversation's events (a run of one kind). */
export type Call =
  | { conversationId: string; type: 'messages'; events: SentMessage[] }
  | { conversationId: string; type: 'members'; events: MemberChange[] }
  | { conversationId: string; type: 'receipts'; events: ReceiptInput[] }
  | { conversationId: string; type: 'deletions'; events: DeletedMessage[] };

/** What the generator believes of a conversation: enough to make plausible (and wrong) events. */
interface Conversation {
  id: string;
  kind: ConversationKind;
  /** Everyone who may appear: a direct chat's two users, or a group's pool. */
  users: string[];
  members: Set<string>;
  maxSeq: number;
  sent: Array<{ id: string; seq: number }>;
  receipts: ReceiptInput[];
}

const OUTSIDER = 'zed';

/**
 * Random events of direct and group conversations: member adds and removes (a direct chat's
 * only ever its two users, so that its peer is never ambiguous), messages with rising seqs,
 * gaps, late (lower) seqs, duplicates, ids sent again with another seq and seqs shared by two
 * ids, and receipts of every kind — reads and deliveries by seq and by ids, duplicates,
 * backwards reads, redos (the same receipt and version again), unknown ids, non-members, seqs
 * not reached, readers who do not share reads. With `userActions` (issue 14, which the Lua
 * scripts never knew), also deletions (of sent ids, again, of unknown ids, then sent again) and
 * marks as unread; without it the random stream is exactly what it was before them.
 */
export class ConversationEventGenerator {
  readonly conversations: Conversation[] = [];
  private version = 0;

  constructor(
    private readonly rng: SeededRandom,
    directs: number,
    groups: number,
    private readonly userActions = false,
  ) {
    for (let i = 0; i < directs; i++)
      this.conversations.push(this.conversation(`d${i}`, 'DIRECT', [`a${i}`, `b${i}`]));
    for (let i = 0; i < groups; i++)
      this.conversations.push(
        this.conversation(
          `g${i}`,
          'GROUP',
          Array.from({ length: 6 }, (_, k) => `u${k}`),
        ),
      );
  }

  /** Users who may have a log or a delivered-by-id entry in a conversation. */
  usersOf(conversationId: string): string[] {
    return [...this.byId(conversationId).users, OUTSIDER];
  }

  /** Every message id sent in a conversation so far. */
  messageIdsOf(conversationId: string): string[] {
    return [...new Set(this.byId(conversationId).sent.map((m) => m.id))];
  }

  /** A step: a few calls over random conversations, each a random-sized run of one kind. */
  step(): Call[] {
    return Array.from({ length: this.rng.int(1, 5) }, () => this.call());
  }

  call(conversation = this.rng.pick(this.conversations)): Call {
    const roll = this.rng.next();
    const size = this.rng.pick([1, 1, 2, 3, 5, 8, 20, 40]);
    if (roll < 0.15 || conversation.members.size === 0)
      return {
        conversationId: conversation.id,
        type: 'members',
        events: this.members(conversation),
      };
    if (this.userActions && roll >= 0.42 && roll < 0.5)
      return {
        conversationId: conversation.id,
        type: 'deletions',
        events: Array.from({ length: this.rng.int(1, 3) }, () => this.deletion(conversation)),
      };
    if (roll < 0.5)
      return {
        conversationId: conversation.id,
        type: 'messages',
        events: Array.from({ length: size }, () => this.message(conversation)),
      };
    return {
      conversationId: conversation.id,
      type: 'receipts',
      events: Array.from({ length: size }, () => this.receipt(conversation)),
    };
  }

  /** Many members at once, to exceed one command's slice. */
  crowd(conversationId: string, count: number, from: number): Call {
    const c = this.byId(conversationId);
    const events: MemberChange[] = Array.from({ length: count }, (_, i) => {
      const userId = `crowd${from + i}`;
      c.members.add(userId);
      return { op: 'add', userId, kind: c.kind };
    });
    return { conversationId, type: 'members', events };
  }

  private conversation(id: string, kind: ConversationKind, users: string[]): Conversation {
    return { id, kind, users, members: new Set(), maxSeq: 0, sent: [], receipts: [] };
  }

  private byId(conversationId: string): Conversation {
    return this.conversations.find((c) => c.id === conversationId)!;
  }

  /** A direct chat's first event may claim GROUP (kind comes from the first event only). */
  private kindOf(c: Conversation): ConversationKind {
    return c.kind === 'DIRECT' && this.rng.chance(0.1) ? 'GROUP' : c.kind;
  }

  private members(c: Conversation): MemberChange[] {
    return Array.from({ length: this.rng.int(1, 4) }, (): MemberChange => {
      const userId = this.rng.pick(c.users);
      const add = !c.members.has(userId) || this.rng.chance(0.3);
      if (add && this.rng.chance(0.8)) {
        c.members.add(userId);
        return { op: 'add', userId, kind: this.kindOf(c) };
      }
      c.members.delete(userId);
      return { op: 'remove', userId, kind: 'GROUP' };
    });
  }

  private message(c: Conversation): SentMessage {
    const r = this.rng.next();
    let seq: number;
    let id: string | null = null;
    if (r < 0.05 && c.sent.length > 0) {
      const again = this.rng.pick(c.sent); // a duplicate: the same message again
      seq = again.seq;
      id = again.id;
    } else if (r < 0.07 && c.sent.length > 0) {
      id = this.rng.pick(c.sent).id; // an id sent again with another seq
      seq = this.rng.int(1, c.maxSeq + 2);
    } else if (r < 0.1 && c.sent.length > 0) {
      seq = this.rng.pick(c.sent).seq; // another id with a seq already used
    } else if (r < 0.2 && c.maxSeq > 2) {
      seq = this.rng.int(1, c.maxSeq - 1); // late: below the newest
    } else {
      seq = c.maxSeq + this.rng.pick([1, 1, 1, 2, 3]); // next, or after a gap
    }
    id ??= `${this.rng.pick(['m', 'M', 'n'])}${seq}-${this.rng.int(0, 99)}`;
    c.maxSeq = Math.max(c.maxSeq, seq);
    c.sent.push({ id, seq });
    // A group's sender is mostly a member; anyone who sends becomes one.
    const senderId =
      c.kind === 'GROUP' && c.members.size > 0 && this.rng.chance(0.85)
        ? this.rng.pick([...c.members])
        : this.rng.pick(c.users);
    c.members.add(senderId);
    return { messageId: id, seq, senderId, kind: this.kindOf(c), sentAt: 1_000_000 + seq * 10 };
  }

  /** Mostly a recent message; sometimes one deleted before, or an id never sent. */
  private deletion(c: Conversation): DeletedMessage {
    if (c.sent.length === 0 || this.rng.chance(0.1))
      return { messageId: `gone${this.rng.int(0, 9)}` };
    return { messageId: this.newish(c) };
  }

  private receipt(c: Conversation): ReceiptInput {
    if (c.receipts.length > 0 && this.rng.chance(0.08)) return this.rng.pick(c.receipts); // redo
    const members = [...c.members];
    const userId =
      members.length > 0 && this.rng.chance(0.85)
        ? this.rng.pick(members)
        : this.rng.pick([...c.users, OUTSIDER]);
    const version = ++this.version;
    const receipt: ReceiptInput = {
      userId,
      at: 5_000_000 + version,
      shareRead: this.rng.chance(0.8),
      version,
      sourceAt: this.rng.chance(0.1) ? 9_000_000 - version : 9_000_000 + version,
      command: this.command(c),
    };
    c.receipts.push(receipt);
    return receipt;
  }

  private command(c: Conversation): ReceiptCommand {
    if (this.userActions && this.rng.chance(0.1)) return { type: 'mark_unread' };
    const seq = () => this.rng.int(1, c.maxSeq + 3); // some beyond the newest: not reached
    const id = () =>
      c.sent.length === 0 || this.rng.chance(0.1) ? `nope${this.rng.int(0, 9)}` : this.newish(c);
    const r = this.rng.next();
    if (r < 0.3) return { type: 'read', seq: seq() };
    if (r < 0.45) return { type: 'read_id', messageId: id() };
    if (r < 0.7) return { type: 'dlv_seq', seq: seq() };
    return { type: 'dlv_ids', messageIds: Array.from({ length: this.rng.int(1, 4) }, id) };
  }

  /** Receipts mostly concern recent messages. */
  private newish(c: Conversation): string {
    const from = this.rng.chance(0.7) ? Math.max(0, c.sent.length - 8) : 0;
    return c.sent[this.rng.int(from, c.sent.length - 1)]!.id;
  }
}
