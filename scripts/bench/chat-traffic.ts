import {
  TypeName,
  type ConversationEvent,
  type ConversationKind,
  type ReceiptEvent,
  type UserSettings,
} from '../../schemas/types';
import { SeededRandom } from '../traffic/random';

/**
 * The benchmark's chat model. Unlike the uniform traffic of scripts/traffic (any member does
 * anything at any time), receipts here follow messages the way devices and people do: every
 * recipient's device confirms delivery shortly after a message (later when it was offline),
 * people with the chat open read within seconds, the others minutes later or not at all, and some
 * scroll: they read part of the way, then to the end. Activity is skewed (Zipf) across
 * conversations and, inside a group, across members, so a few groups are busy and a few members
 * talk most. Everything derives from the seed; time is logical (milliseconds at a nominal event
 * rate), so the same seed gives the same events in the same order whether they are loaded as a
 * backlog or offered in real time.
 */
export interface ChatTrafficOptions {
  seed: number;
  users: number;
  directChats: number;
  groups: number;
  /** Members per group: groupSize ± 3. */
  groupSize: number;
  /** Messages one sender sends in a row, at most (1..maxBurst, small bursts likelier). */
  maxBurst: number;
  /** Share of bursts that happen in groups. */
  groupShare: number;
  /** Zipf exponent of the activity across conversations (0: uniform). */
  activitySkew: number;
  /** Share of users who turned read receipts off. */
  optOutShare: number;
  /** Share of delivered receipts that list message ids (the API's batch) instead of a seq. */
  deliveredByIdsShare: number;
  /** Share of reads that name the message id instead of the seq. */
  readByIdShare: number;
  /** Events per logical second: how fast logical time runs. */
  nominalRate: number;
  /** Prefix of conversation and event ids, unique per run. */
  runId: string;
}

export const DEFAULT_CHAT_TRAFFIC: ChatTrafficOptions = {
  seed: 7,
  users: 100_000,
  directChats: 50_000,
  groups: 2_000,
  groupSize: 20,
  maxBurst: 8,
  groupShare: 0.12,
  activitySkew: 0.5,
  optOutShare: 0.05,
  deliveredByIdsShare: 0.2,
  readByIdShare: 0.1,
  nominalRate: 10_000,
  runId: '',
};

export type TrafficEvent =
  | { role: 'conversationEvents'; key: string; value: ConversationEvent }
  | { role: 'receiptEvents'; key: string; value: ReceiptEvent }
  | { role: 'userSettings'; key: string; value: UserSettings };

/** What the workload contained, counted as it was generated. */
export interface TrafficCounts {
  events: number;
  setupEvents: number;
  messages: { direct: number; group: number };
  delivered: { direct: number; group: number };
  reads: { direct: number; group: number };
  /** Messages of others that the reads moved past: Σ (new watermark − old watermark). */
  messagesCoveredByReads: number;
  /** Longest run of messages from one sender in a row, and how many bursts. */
  bursts: number;
}

interface Member {
  userId: string;
  read: number;
  delivered: number;
  /** A delivery (or read) of this member is scheduled and will cover what arrives meanwhile. */
  deliveryPending: boolean;
  readPending: boolean;
  online: boolean;
  /** How likely this member has the chat open when a message arrives. */
  attention: number;
}

interface Chat {
  id: string;
  kind: ConversationKind;
  members: Member[];
  lastSeq: number;
  lastSender: number;
  /** Sender (member index) of the latest seqs, for delivered-by-ids lists. */
  recentSenders: number[];
}

type Scheduled =
  | { type: 'message'; chat: Chat; sender: number }
  | { type: 'delivered'; chat: Chat; member: number }
  | { type: 'read'; chat: Chat; member: number };

const RECENT = 64;

/**
 * Generates the events; call setUp() once (memberships, settings), then next() for each traffic
 * event. Pure and synchronous: encoding and producing are the caller's job.
 */
export class ChatTraffic {
  readonly counts: TrafficCounts = {
    events: 0,
    setupEvents: 0,
    messages: { direct: 0, group: 0 },
    delivered: { direct: 0, group: 0 },
    reads: { direct: 0, group: 0 },
    messagesCoveredByReads: 0,
    bursts: 0,
  };
  private readonly random: SeededRandom;
  private readonly directChats: Chat[] = [];
  private readonly groups: Chat[] = [];
  private readonly directCdf: Float64Array;
  private readonly groupCdf: Float64Array;
  private readonly queue = new TimeQueue<Scheduled>();
  private readonly stepMs: number;
  private clock = 0;
  private eventNo = 0;

  constructor(readonly options: ChatTrafficOptions = DEFAULT_CHAT_TRAFFIC) {
    const o = options;
    this.random = new SeededRandom(o.seed);
    this.stepMs = 1000 / o.nominalRate;
    const user = () => `u${this.random.int(0, o.users - 1)}`;
    for (let i = 0; i < o.directChats; i++) {
      const a = user();
      let b = user();
      while (b === a) b = user();
      this.directChats.push(this.chat(`${o.runId}dm-${i}`, 'DIRECT', [a, b]));
    }
    for (let g = 0; g < o.groups; g++) {
      const size = Math.min(o.users, Math.max(3, o.groupSize + this.random.int(-3, 3)));
      const ids = new Set<string>();
      while (ids.size < size) ids.add(user());
      this.groups.push(this.chat(`${o.runId}g-${g}`, 'GROUP', [...ids]));
    }
    this.directCdf = zipfCdf(this.directChats.length, o.activitySkew);
    this.groupCdf = zipfCdf(this.groups.length, o.activitySkew);
  }

  get conversations(): number {
    return this.directChats.length + this.groups.length;
  }

  /** Memberships of every conversation, then the opt-outs: to send before any traffic. */
  *setUp(at: number): Generator<TrafficEvent> {
    for (const chat of [...this.directChats, ...this.groups])
      for (const m of chat.members) {
        this.counts.setupEvents++;
        yield this.conversationEvent(chat, at, {
          [TypeName.MemberAdded]: { user_id: m.userId, kind: chat.kind, added_at: at },
        });
      }
    const optOuts = Math.round(this.options.users * this.options.optOutShare);
    const step = optOuts > 0 ? this.options.users / optOuts : 0;
    for (let i = 0; i < optOuts; i++) {
      const userId = `u${Math.floor(i * step)}`;
      this.counts.setupEvents++;
      yield {
        role: 'userSettings',
        key: userId,
        value: { user_id: userId, read_receipts_enabled: false, updated_at: at, version: at },
      };
    }
  }

  /** The next traffic event, stamped `at` (wall-clock ms: event time and occurred_at). */
  next(at: number): TrafficEvent {
    this.clock += this.stepMs;
    for (;;) {
      const due = this.queue.popDue(this.clock);
      if (due === undefined) return this.startBurst(at);
      const event = this.fire(due, at);
      if (event) return event;
    }
  }

  private chat(id: string, kind: ConversationKind, userIds: string[]): Chat {
    const [lo, hi] = kind === 'GROUP' ? [0.05, 0.6] : [0.2, 0.8];
    return {
      id,
      kind,
      lastSeq: 0,
      lastSender: -1,
      recentSenders: new Array<number>(RECENT).fill(-1),
      members: userIds.map((userId) => ({
        userId,
        read: 0,
        delivered: 0,
        deliveryPending: false,
        readPending: false,
        online: this.random.next() < 0.85,
        attention: lo + (hi - lo) * this.random.next(),
      })),
    };
  }

  private startBurst(at: number): TrafficEvent {
    const group = this.random.next() < this.options.groupShare;
    const list = group ? this.groups : this.directChats;
    const chat = list[pickZipf(group ? this.groupCdf : this.directCdf, this.random.next())]!;
    let sender: number;
    if (chat.kind === 'DIRECT') {
      // Conversations alternate: usually the other one answers.
      sender =
        chat.lastSender < 0 || this.random.next() < 0.35
          ? this.random.int(0, 1)
          : 1 - chat.lastSender;
    } else {
      // A few members talk most.
      sender = Math.min(
        chat.members.length - 1,
        Math.floor(chat.members.length * this.random.next() ** 2.5),
      );
    }
    // Small bursts are likelier: 1..maxBurst, roughly geometric.
    const burst = Math.min(
      this.options.maxBurst,
      1 + Math.floor(-Math.log(1 - this.random.next()) * 2.2),
    );
    this.counts.bursts++;
    let t = this.clock;
    for (let i = 1; i < burst; i++) {
      t += 250 + 1250 * this.random.next();
      this.queue.push(t, { type: 'message', chat, sender });
    }
    return this.message(chat, sender, at);
  }

  private fire(s: Scheduled, at: number): TrafficEvent | null {
    if (s.type === 'message') return this.message(s.chat, s.sender, at);
    if (s.type === 'delivered') return this.delivered(s.chat, s.member, at);
    return this.read(s.chat, s.member, at);
  }

  private message(chat: Chat, sender: number, at: number): TrafficEvent {
    const seq = ++chat.lastSeq;
    chat.lastSender = sender;
    chat.recentSenders[seq % RECENT] = sender;
    const from = chat.members[sender]!;
    from.read = seq;
    from.delivered = seq;
    const r = this.random;
    chat.members.forEach((m, i) => {
      if (i === sender) return;
      if (r.next() < 0.02) m.online = !m.online;
      if (!m.deliveryPending) {
        m.deliveryPending = true;
        this.queue.push(this.clock + (m.online ? 30 + 270 * r.next() : 5_000 + 55_000 * r.next()), {
          type: 'delivered',
          chat,
          member: i,
        });
      }
      if (!m.readPending) {
        const roll = r.next();
        const delay =
          m.online && roll < m.attention
            ? 300 + 2_700 * r.next()
            : roll < m.attention + 0.5
              ? 5_000 + 115_000 * r.next()
              : -1;
        if (delay >= 0) {
          m.readPending = true;
          this.queue.push(this.clock + delay, { type: 'read', chat, member: i });
        }
      }
    });
    this.counts.messages[chat.kind === 'DIRECT' ? 'direct' : 'group']++;
    return this.conversationEvent(chat, at, {
      [TypeName.MessageSent]: {
        message_id: messageId(chat, seq),
        seq,
        sender_id: from.userId,
        kind: chat.kind,
        sent_at: at,
      },
    });
  }

  private delivered(chat: Chat, index: number, at: number): TrafficEvent | null {
    const m = chat.members[index]!;
    m.deliveryPending = false;
    const upTo = chat.lastSeq;
    if (upTo <= m.delivered) return null;
    let ids: string[] | null = null;
    if (upTo - m.delivered <= 20 && this.random.next() < this.options.deliveredByIdsShare) {
      ids = [];
      for (let seq = m.delivered + 1; seq <= upTo; seq++)
        if (chat.recentSenders[seq % RECENT] !== index) ids.push(messageId(chat, seq));
    }
    m.delivered = upTo;
    if (ids !== null && ids.length === 0) return null;
    this.counts.delivered[chat.kind === 'DIRECT' ? 'direct' : 'group']++;
    return this.receiptEvent(chat, m, at, {
      [TypeName.Delivered]: ids
        ? { message_ids: ids, up_to_seq: null }
        : { message_ids: null, up_to_seq: upTo },
    });
  }

  private read(chat: Chat, index: number, at: number): TrafficEvent | null {
    const m = chat.members[index]!;
    m.readPending = false;
    if (m.read >= chat.lastSeq) return null;
    let upTo = chat.lastSeq;
    if (upTo - m.read >= 4 && this.random.next() < 0.2) {
      // Scrolling: part of the way now, the rest a little later.
      upTo = m.read + this.random.int(1, upTo - m.read - 1);
      m.readPending = true;
      this.queue.push(this.clock + 1_000 + 4_000 * this.random.next(), {
        type: 'read',
        chat,
        member: index,
      });
    }
    this.counts.messagesCoveredByReads += upTo - m.read;
    m.read = upTo;
    m.delivered = Math.max(m.delivered, upTo);
    this.counts.reads[chat.kind === 'DIRECT' ? 'direct' : 'group']++;
    const byId = this.random.next() < this.options.readByIdShare;
    return this.receiptEvent(chat, m, at, {
      [TypeName.ReadUpTo]: byId
        ? { seq: null, message_id: messageId(chat, upTo) }
        : { seq: upTo, message_id: null },
    });
  }

  private conversationEvent(
    chat: Chat,
    at: number,
    payload: ConversationEvent['payload'],
  ): TrafficEvent {
    this.counts.events++;
    return {
      role: 'conversationEvents',
      key: chat.id,
      value: {
        event_id: `${this.options.runId}e${this.eventNo++}`,
        conversation_id: chat.id,
        occurred_at: at,
        payload,
      },
    };
  }

  private receiptEvent(
    chat: Chat,
    m: Member,
    at: number,
    payload: ReceiptEvent['payload'],
  ): TrafficEvent {
    this.counts.events++;
    return {
      role: 'receiptEvents',
      key: chat.id,
      value: {
        event_id: `${this.options.runId}e${this.eventNo++}`,
        conversation_id: chat.id,
        user_id: m.userId,
        device_id: 'phone',
        occurred_at: at,
        payload,
      },
    };
  }
}

function messageId(chat: Chat, seq: number): string {
  return `${chat.id}:${seq}`;
}

/** Cumulative Zipf weights 1/(rank+1)^s, normalised to 1. */
function zipfCdf(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += 1 / (i + 1) ** s;
    cdf[i] = sum;
  }
  for (let i = 0; i < n; i++) cdf[i]! /= sum;
  return cdf;
}

function pickZipf(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A binary min-heap on time; equal times leave in insertion order (deterministic). */
class TimeQueue<T> {
  private readonly at: number[] = [];
  private readonly order: number[] = [];
  private readonly items: T[] = [];
  private inserted = 0;

  get size(): number {
    return this.items.length;
  }

  push(at: number, item: T): void {
    let i = this.items.length;
    this.at.push(at);
    this.order.push(this.inserted++);
    this.items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** The earliest item if it is due at `now`. */
  popDue(now: number): T | undefined {
    if (this.items.length === 0 || this.at[0]! > now) return undefined;
    const top = this.items[0]!;
    const last = this.items.length - 1;
    this.swap(0, last);
    this.at.pop();
    this.order.pop();
    this.items.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.items.length && this.less(l, m)) m = l;
      if (r < this.items.length && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    return (
      this.at[a]! < this.at[b]! || (this.at[a] === this.at[b] && this.order[a]! < this.order[b]!)
    );
  }

  private swap(a: number, b: number): void {
    [this.at[a], this.at[b]] = [this.at[b]!, this.at[a]!];
    [this.order[a], this.order[b]] = [this.order[b]!, this.order[a]!];
    [this.items[a], this.items[b]] = [this.items[b]!, this.items[a]!];
  }
}
