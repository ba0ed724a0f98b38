import type { Result } from 'ioredis';
import type { RedisClient } from './connect';
import type { ConversationKind, DeadLetterReason, ReceiptStatus } from '../../schemas/types';
import type { RedisKeys } from './keys';
import type { Queued } from './pipeline';
import { defineScripts } from './script-loader';

type Reply = unknown;

export interface MessageSentResult {
  kind: ConversationKind;
  lastSeq: number;
  /**
   * Sending took the sender to the end over messages they had not read: their badge loses the
   * source (false when they had nothing unread: it is not in their badge).
   */
  senderCaughtUp: boolean;
  hasHeld: boolean;
  /** Members (not the sender) who have not read the message: their badge gains a source. */
  behind: string[];
  /** Every member of a direct chat (the sender's peer is among them); empty for a group. */
  members: string[];
  /** A group's window is open after the run (what sending read folds in, as receipts do). */
  windowOpen: boolean;
}

export interface SentMessage {
  messageId: string;
  seq: number;
  senderId: string;
  kind: ConversationKind;
  sentAt: number;
}

/** The most events one script call applies (messages, member changes, receipts): bounded script time. */
export const MAX_EVENTS_PER_CALL = 1000;

/** A run of one conversation's events goes in one script call: 1 to MAX_EVENTS_PER_CALL. */
function checkRunSize(call: string, events: number): void {
  if (events < 1 || events > MAX_EVENTS_PER_CALL)
    throw new RangeError(`${call} takes 1 to ${MAX_EVENTS_PER_CALL} events, got ${events}`);
}

/** A member joining or leaving; kind is used only while the conversation's kind is unknown. */
export interface MemberChange {
  op: 'add' | 'remove';
  userId: string;
  kind: ConversationKind;
}

export interface MemberChangedResult {
  kind: ConversationKind;
  hasHeld: boolean;
  lastSeq: number;
}

export type ReceiptCommand =
  | { type: 'read'; seq: number }
  | { type: 'read_id'; messageId: string }
  | { type: 'dlv_seq'; seq: number }
  | { type: 'dlv_ids'; messageIds: string[] }
  /** Mark as unread: the in-memory engine's only (no script takes it). */
  | { type: 'mark_unread' };

export type HeldReason = Extract<
  DeadLetterReason,
  'NOT_A_MEMBER' | 'SEQ_NOT_REACHED' | 'UNKNOWN_MESSAGE' | 'MESSAGE_DELETED'
>;

export type ReceiptResult =
  | { applied: false; reason: HeldReason }
  | {
      applied: true;
      kind: ConversationKind;
      oldRead: number;
      newRead: number;
      unread: number;
      atEnd: boolean;
      peer: string | null;
      push: { messageId: string; seq: number; status: ReceiptStatus } | null;
      windowOpen: boolean;
      lastSeq: number;
      /** False for a duplicate, replayed or backwards receipt: nothing to persist. */
      changed: boolean;
      read: number;
      delivered: number;
      newlyDeliveredIds: string[];
      /**
       * The reader's mark-as-unread flag: 'set' by a mark_unread, 'cleared' by their read; absent
       * when it did not change (always, for the scripts, which know no flag).
       */
      unreadMark?: 'set' | 'cleared';
    };

/** A receipt as the store applies it. */
export interface ReceiptInput {
  userId: string;
  at: number;
  shareRead: boolean;
  /** Source offset: the version of what it changes. */
  version: number;
  /** Source event time (ms). */
  sourceAt: number;
  command: ReceiptCommand;
}

/** One receipt's entry in apply-receipts' reply (see the script's header). */
type ReceiptReply =
  | ['held', HeldReason]
  | [
      ConversationKind,
      string,
      string,
      number,
      number,
      string,
      string,
      string,
      string,
      number,
      string,
      number,
      string,
      string,
      string[] | object,
    ];

function parseReceiptReply(v: ReceiptReply): ReceiptResult {
  if (v[0] === 'held') return { applied: false, reason: v[1] };
  const [kind, oldRead, newRead, unread, atEnd, peer, pushId, pushSeq, pushStatus, win, lastSeq] =
    v;
  const [changed, read, delivered, newIds] = v.slice(11) as [number, string, string, object];
  return {
    applied: true,
    kind,
    oldRead: Number(oldRead),
    newRead: Number(newRead),
    unread,
    atEnd: atEnd === 1,
    peer: peer || null,
    push: pushId
      ? { messageId: pushId, seq: Number(pushSeq), status: pushStatus as ReceiptStatus }
      : null,
    windowOpen: win === 1,
    lastSeq: Number(lastSeq),
    changed: changed === 1,
    read: Number(read),
    delivered: Number(delivered),
    newlyDeliveredIds: list(newIds),
  };
}

export interface WindowContents {
  lo: number;
  hi: number;
  version: number;
  sourceAt: number;
  absorbed: number;
  /**
   * Pushes the direct-chat rule would have sent for the window's receipts (per receipt, one to
   * each sender it newly covers); null for a window opened by a build that did not count them.
   */
  unwindowed: number | null;
  members: string[];
  reads: Map<string, number>;
  delivered: Map<string, number>;
  messages: Array<{ id: string; seq: number; sender: string; deliveredByIds: string[] }>;
}

/** A list from a script's JSON reply: Redis' cjson writes an empty list as {}. */
function list(value: string[] | object): string[] {
  return Array.isArray(value) ? (value as string[]) : [];
}

function pairs(flat: Reply): Map<string, number> {
  const list = flat as Array<string | number>;
  const map = new Map<string, number>();
  for (let i = 0; i < list.length; i += 2) map.set(String(list[i]), Number(list[i + 1]));
  return map;
}

/**
 * Conversation state in Redis (one hash-tagged slot per conversation) changed by the Lua scripts
 * in ./lua, each event applied atomically. The pipeline no longer calls them on its hot path (it
 * applies processors/engine to its partitions' states in memory and writes them behind): they
 * are the reference the engine's differential test holds it to, and the bench measures them.
 */
export class ConversationStore {
  constructor(
    readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly ttlSeconds: number,
  ) {
    defineScripts(redis);
  }

  /**
   * Applies consecutive messages of one conversation (in topic order) in one script call; the
   * results are per message, in order, as if each had been applied alone one after the other.
   * At most MAX_EVENTS_PER_CALL messages.
   */
  messagesSent(conversationId: string, messages: SentMessage[]): Queued<MessageSentResult[]> {
    checkRunSize('messagesSent', messages.length);
    const args: Array<string | number> = [this.ttlSeconds];
    for (const m of messages) args.push(m.messageId, m.seq, m.senderId, m.kind, m.sentAt);
    return {
      queue: (pipe) => pipe.messagesSent(this.keys.conversation(conversationId), ...args),
      parse: (reply) => {
        const results = JSON.parse(reply as string) as Array<
          [ConversationKind, string, number, number, string[] | object, string[] | object, number]
        >;
        if (!Array.isArray(results) || results.length !== messages.length)
          throw new Error(
            `messages-sent returned ${Array.isArray(results) ? results.length : 'no'} results for ${messages.length} messages`,
          );
        return results.map(
          ([kind, lastSeq, senderCaughtUp, hasHeld, behind, members, windowOpen]) => ({
            kind,
            lastSeq: Number(lastSeq),
            senderCaughtUp: senderCaughtUp === 1,
            hasHeld: hasHeld === 1,
            behind: list(behind),
            members: list(members),
            windowOpen: windowOpen === 1,
          }),
        );
      },
    };
  }

  /** Applies consecutive member changes of one conversation, in order, in one script call. */
  membersChanged(conversationId: string, changes: MemberChange[]): Queued<MemberChangedResult> {
    checkRunSize('membersChanged', changes.length);
    const args: Array<string | number> = [this.ttlSeconds];
    for (const c of changes) args.push(c.op, c.userId, c.kind);
    return {
      queue: (pipe) => pipe.membersChanged(this.keys.conversation(conversationId), ...args),
      parse: (reply) => {
        const [k, hasHeld, lastSeq] = reply as [ConversationKind, number, number];
        return { kind: k, hasHeld: hasHeld === 1, lastSeq };
      },
    };
  }

  /** Applies a run of one conversation's receipts, in order, in one script call. */
  applyReceipts(conversationId: string, receipts: ReceiptInput[]): Queued<ReceiptResult[]> {
    checkRunSize('applyReceipts', receipts.length);
    const args: Array<string | number> = [this.ttlSeconds];
    for (const r of receipts) {
      const c = r.command;
      args.push(c.type, r.userId, r.at, r.shareRead ? '1' : '0', r.version, r.sourceAt);
      if (c.type === 'read' || c.type === 'dlv_seq') args.push(1, c.seq);
      else if (c.type === 'read_id') args.push(1, c.messageId);
      else if (c.type === 'dlv_ids') args.push(c.messageIds.length, ...c.messageIds);
      else throw new RangeError('apply-receipts-1.lua knows no mark_unread: the engine applies it');
    }
    return {
      queue: (pipe) => pipe.applyReceipts(this.keys.conversation(conversationId), ...args),
      parse: (reply) => (JSON.parse(reply as string) as ReceiptReply[]).map(parseReceiptReply),
    };
  }

  collectWindow(
    conversationId: string,
    maxPerSender: number,
    scanLimit = 256,
  ): Queued<WindowContents | null> {
    return {
      queue: (pipe) =>
        pipe.collectWindow(this.keys.conversation(conversationId), maxPerSender, scanLimit),
      parse: (reply) => {
        const v = reply as unknown[];
        if (v.length === 0) return null;
        const [lo, hi, version, sourceAt, absorbed, members, reads, dlvds, messages, unwindowed] =
          v;
        return {
          lo: Number(lo),
          hi: Number(hi),
          version: Number(version),
          sourceAt: Number(sourceAt),
          absorbed: Number(absorbed),
          unwindowed: Number(unwindowed) < 0 ? null : Number(unwindowed),
          members: members as string[],
          reads: pairs(reads),
          delivered: pairs(dlvds),
          messages: (messages as Array<[string, number, string, string[]]>).map(
            ([id, seq, sender, d]) => ({
              id,
              seq: Number(seq),
              sender,
              deliveredByIds: d,
            }),
          ),
        };
      },
    };
  }

  clearWindow(conversationId: string, version: number): Queued<boolean> {
    return {
      queue: (pipe) => pipe.clearWindow(this.keys.conversation(conversationId), String(version)),
      parse: (reply) => reply === 1,
    };
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    messagesSent(...args: Array<string | number>): Result<unknown, Context>;
    membersChanged(...args: Array<string | number>): Result<unknown, Context>;
    applyReceipts(...args: Array<string | number>): Result<unknown, Context>;
    collectWindow(...args: Array<string | number>): Result<unknown, Context>;
    clearWindow(...args: Array<string | number>): Result<unknown, Context>;
  }
}
