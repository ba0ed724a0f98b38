import type { EventPublisher } from '../../runtime/event-publisher';
import { SeededRandom } from '../../scripts/traffic/random';
import { ReferenceModel } from './reference-model';

export interface LoadShape {
  seed: number;
  users: number;
  directChats: number;
  groups: number;
  groupSize: number;
  /** Events a second the load offers while it runs. */
  rate: number;
}

/** Message ids the load gives: the seq is in the id, so that a report can name a message. */
export const messageId = (conversationId: string, seq: number): string =>
  `${conversationId}:${seq}`;

/**
 * A seeded chat load, recorded in the reference model as it is published: members first, then
 * bursts of messages, deliveries up to the newest seq, reads (most to the end). Every receipt
 * names a seq already sent, so the final truth does not depend on how the pipeline interleaves
 * the two input topics.
 */
export class ChaosLoad {
  readonly model = new ReferenceModel();
  private readonly random: SeededRandom;
  private readonly ids: string[] = [];
  /** Events recorded but not yet acknowledged by Kafka: kept until a flush succeeds. */
  private pending: Array<(publish: EventPublisher) => void> = [];
  /** Events published (flushed) so far. */
  published = 0;
  /** One flush at a time: a second waits for the first (the pending list is shared). */
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly publish: EventPublisher,
    readonly shape: LoadShape,
    private readonly prefix = '',
  ) {
    this.random = new SeededRandom(shape.seed);
    const user = (i: number) => `${prefix}u${i}`;
    const pairs = new Set<string>();
    for (let i = 0; pairs.size < shape.directChats && i < shape.directChats * 20; i++) {
      const a = this.random.int(0, shape.users - 1);
      const b = this.random.int(0, shape.users - 1);
      const pair = `${Math.min(a, b)}-${Math.max(a, b)}`;
      if (a === b || pairs.has(pair)) continue; // one direct chat per pair: its badge source is the peer
      pairs.add(pair);
      this.addConversation(`${prefix}dm${pairs.size}`, 'DIRECT', [user(a), user(b)]);
    }
    for (let g = 0; g < shape.groups; g++) {
      const members = new Set<string>();
      while (members.size < Math.min(shape.groupSize, shape.users))
        members.add(user(this.random.int(0, shape.users - 1)));
      this.addConversation(`${prefix}g${g}`, 'GROUP', [...members]);
    }
  }

  /** Publishes the memberships (before any traffic). */
  async setUp(): Promise<void> {
    for (const id of this.ids) {
      const c = this.model.conversation(id);
      for (const m of c.members) this.pending.push((p) => p.memberAdded(id, m, c.kind));
    }
    await this.flush();
  }

  /** Queues about `events` events of traffic (the caller flushes). */
  step(events: number): void {
    for (let queued = 0; queued < events;) queued += this.action();
  }

  /**
   * Publishes what is pending. If Kafka refuses, the batch stays pending and is sent again by the
   * next flush (a part that did get through is then sent twice: events are idempotent).
   */
  flush(): Promise<void> {
    const next = this.flushing.then(() => this.flushOnce());
    this.flushing = next.catch(() => undefined);
    return next;
  }

  private async flushOnce(): Promise<void> {
    // The publisher empties its queue as a flush starts, so a failed one leaves nothing there.
    const batch = this.pending;
    this.pending = []; // events recorded during the send wait for the next flush
    for (const queue of batch) queue(this.publish);
    try {
      this.published += await this.publish.flush();
    } catch (err) {
      this.pending = [...batch, ...this.pending];
      throw err;
    }
  }

  /**
   * Offers `rate` events a second for `seconds`, in slices of 100 ms; `shouldStop` ends it early.
   * A flush that fails (the broker down) is retried: the events stay queued, none is lost.
   */
  async run(seconds: number, onTick?: (elapsedMs: number) => void): Promise<void> {
    const started = Date.now();
    const perSlice = Math.max(1, Math.round(this.shape.rate / 10));
    while (Date.now() - started < seconds * 1000) {
      const slice = Date.now();
      this.step(perSlice);
      await this.flushRetrying();
      onTick?.(Date.now() - started);
      await sleep(Math.max(0, 100 - (Date.now() - slice)));
    }
  }

  /** Flushes until the broker takes the events (it may be restarting). */
  async flushRetrying(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.flush();
        return;
      } catch (err) {
        if (attempt >= 120) throw err;
        await sleep(1000);
      }
    }
  }

  /** A message sent now by `sender` (the recovery probes), published by the next flush. */
  sendNow(conversationId: string, sender: string): number {
    const seq = this.model.send(conversationId, sender);
    const { kind } = this.model.conversation(conversationId);
    this.pending.push((p) =>
      p.messageSent(conversationId, {
        messageId: messageId(conversationId, seq),
        seq,
        senderId: sender,
        kind,
      }),
    );
    return seq;
  }

  /** A conversation of the load (its members are published by setUp). */
  addConversation(id: string, kind: 'DIRECT' | 'GROUP', members: string[]): void {
    this.model.addConversation(id, kind, members);
    this.ids.push(id);
  }

  private action(): number {
    const id = this.random.pick(this.ids);
    const c = this.model.conversation(id);
    const roll = this.random.next();
    if (roll < 0.4 || c.lastSeq === 0) {
      const sender = this.random.pick(c.members);
      const burst = this.random.int(1, 4);
      for (let i = 0; i < burst; i++) {
        const seq = this.model.send(id, sender);
        this.pending.push((p) =>
          p.messageSent(id, { messageId: messageId(id, seq), seq, senderId: sender, kind: c.kind }),
        );
      }
      return burst;
    }
    const member = this.random.pick(c.members);
    if (roll < 0.7) {
      this.model.markDelivered(id, member, c.lastSeq);
      const upToSeq = c.lastSeq;
      this.pending.push((p) => p.delivered(id, member, { upToSeq }, 'phone'));
    } else {
      const upTo = this.random.chance(0.8) ? c.lastSeq : this.random.int(1, c.lastSeq);
      this.model.markRead(id, member, upTo);
      this.pending.push((p) => p.read(id, member, { seq: upTo }, 'phone'));
    }
    return 1;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
