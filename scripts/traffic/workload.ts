import type { ConversationKind } from '../../schemas/types';
import type { EventPublisher } from '../../runtime/event-publisher';
import { SeededRandom } from './random';

export interface WorkloadOptions {
  seed: number;
  users: number;
  directChats: number;
  groups: number;
  groupSize: number;
  /** Messages a sender sends in one burst, at most. */
  maxBurst: number;
}

export const DEFAULT_WORKLOAD: WorkloadOptions = {
  seed: 7,
  users: 2000,
  directChats: 1500,
  groups: 150,
  groupSize: 20,
  maxBurst: 6,
};

interface Conversation {
  id: string;
  kind: ConversationKind;
  members: string[];
  lastSeq: number;
}

export interface WorkloadCounts {
  messages: number;
  delivered: number;
  reads: number;
  members: number;
}

/**
 * A chat workload: direct chats and groups of ~20; senders who send bursts; recipients whose
 * devices confirm delivery; readers who scroll to the end (or part of the way). Deterministic
 * for a seed, so benchmarks compare like with like.
 */
export class Workload {
  private readonly random: SeededRandom;
  private readonly conversations: Conversation[] = [];
  readonly counts: WorkloadCounts = { messages: 0, delivered: 0, reads: 0, members: 0 };

  constructor(
    private readonly publish: EventPublisher,
    readonly options: WorkloadOptions = DEFAULT_WORKLOAD,
    runId = '',
  ) {
    this.random = new SeededRandom(options.seed);
    const user = (i: number) => `user-${i % options.users}`;
    for (let i = 0; i < options.directChats; i++) {
      const a = this.random.int(0, options.users - 1);
      let b = this.random.int(0, options.users - 2);
      if (b >= a) b++;
      this.conversations.push({
        id: `${runId}dm-${i}`,
        kind: 'DIRECT',
        members: [user(a), user(b)],
        lastSeq: 0,
      });
    }
    for (let g = 0; g < options.groups; g++) {
      const members = new Set<string>();
      while (members.size < Math.min(options.groupSize, options.users))
        members.add(user(this.random.int(0, options.users - 1)));
      this.conversations.push({
        id: `${runId}group-${g}`,
        kind: 'GROUP',
        members: [...members],
        lastSeq: 0,
      });
    }
  }

  /** The conversations and their members, for checks. */
  get conversationList(): ReadonlyArray<{
    id: string;
    kind: ConversationKind;
    members: readonly string[];
  }> {
    return this.conversations;
  }

  /** Queues the membership of every conversation (send once, before traffic). */
  setUp(): number {
    for (const c of this.conversations)
      for (const m of c.members) {
        this.publish.memberAdded(c.id, m, c.kind);
        this.counts.members++;
      }
    return this.counts.members;
  }

  /** Queues about `events` events of traffic; returns how many were queued. */
  step(events: number): number {
    let queued = 0;
    while (queued < events) queued += this.action();
    return queued;
  }

  private action(): number {
    const c = this.random.pick(this.conversations);
    const roll = this.random.next();
    if (roll < 0.4 || c.lastSeq === 0) {
      // A burst from one sender.
      const sender = this.random.pick(c.members);
      const burst = this.random.int(1, this.options.maxBurst);
      for (let i = 0; i < burst; i++) {
        c.lastSeq++;
        this.publish.messageSent(c.id, {
          messageId: `${c.id}:${c.lastSeq}`,
          seq: c.lastSeq,
          senderId: sender,
          kind: c.kind,
        });
      }
      this.counts.messages += burst;
      return burst;
    }
    const member = this.random.pick(c.members);
    if (roll < 0.7) {
      this.publish.delivered(c.id, member, { upToSeq: c.lastSeq }, 'phone');
      this.counts.delivered++;
    } else {
      // Readers scroll: most read to the end, some stop part of the way.
      const upTo = this.random.next() < 0.8 ? c.lastSeq : this.random.int(1, c.lastSeq);
      this.publish.read(c.id, member, { seq: upTo }, 'phone');
      this.counts.reads++;
    }
    return 1;
  }
}
