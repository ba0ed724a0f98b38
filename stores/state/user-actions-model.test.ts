import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis/connect';
import { loadConfig } from '../../config/config';
import { SeededRandom } from '../../scripts/traffic/random';
import type { MessageDeletedResult } from '../../processors/engine/messages-deleted';
import {
  ConversationEventGenerator,
  type Call,
} from '../../tests/support/conversation-event-generator';
import { applyCalls, conversationKeyNames } from '../../tests/support/engine-steps';
import { deleteKeys } from '../../tests/support/harness';
import { connectRedis } from '../redis/connect';
import type {
  MemberChange,
  ReceiptInput,
  ReceiptResult,
  SentMessage,
} from '../redis/conversation-store';
import { RedisKeys } from '../redis/keys';
import { ReadModel } from '../redis/read-model';
import { RedisReceiptDetails } from '../redis/receipt-details';
import type { DeletedMessage } from '../../processors/engine/messages-deleted';
import { loadConversations } from './conversation-loader';
import type { ConversationState } from './conversation-state';

/**
 * Deletions and marks as unread came after the Lua scripts that engine-differential.test.ts holds
 * the engine to, so that test cannot cover them. Here the same seeded generator, with user
 * actions on, drives the engine on a real Redis, and a small model written below (independent
 * of the engine's TypeScript and of Redis) says what every result and every user's unread count
 * must be: the rules of issue 14 stated once more, plainly. The unread counts and flags are read
 * back through the read model's script (unread-counts-n.lua) and deleted ids through the receipt
 * details script, so what the engine wrote is on trial too, with its states loaded afresh each
 * step (the loader) or kept from step to step (as a partition's owner keeps them).
 */
describe('engine ≡ a model of deletions and marks as unread (real Redis, seeded random events)', () => {
  const TTL = 86_400;
  const STEPS = 100;
  const run = randomBytes(4).toString('hex');
  /** The names of the keys each seed wrote, removed after it (no SCAN of a shared Redis). */
  const written: Array<() => string[]> = [];
  let redis: RedisClient;
  /** How often each rule came up, over all seeds: the events must reach every rule. */
  const seen = new Map<string, number>();
  const saw = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);

  beforeAll(async () => {
    redis = await connectRedis(loadConfig().redis.main, 'main');
  });
  afterEach(async () => {
    for (const names of written.splice(0)) await deleteKeys(redis, names());
  });
  afterAll(() => redis.disconnect());

  it.each<[number, 'reload' | 'cached']>([
    [11, 'reload'],
    [12, 'reload'],
    [14, 'cached'],
    [15, 'cached'],
  ])(
    'seed %i, state %s',
    async (seed, mode) => {
      const keys = new RedisKeys(`t${run}m${seed}`);
      const readModel = new ReadModel(redis, keys);
      const details = new RedisReceiptDetails(redis, keys);
      const gen = new ConversationEventGenerator(new SeededRandom(seed), 3, 3, true);
      written.push(() =>
        gen.conversations.flatMap((c) =>
          conversationKeyNames(gen, c.id).map((name) => keys.conversation(c.id) + name),
        ),
      );
      const model = new Map(gen.conversations.map((c) => [c.id, new ModelConversation()]));
      const cache = new Map<string, ConversationState>();
      const statesOf = async (ids: string[], dlvIds: Map<string, string[]>) => {
        if (mode === 'reload') return loadConversations(redis, keys, ids, dlvIds);
        const fresh = ids.filter((id) => !cache.has(id));
        for (const [id, state] of await loadConversations(redis, keys, fresh, dlvIds))
          cache.set(id, state);
        return new Map(ids.map((id) => [id, cache.get(id)!]));
      };

      for (let step = 0; step < STEPS; step++) {
        const calls = gen.step();
        const { step: engineStep, results } = await applyCalls(redis, calls, statesOf, TTL);
        await engineStep.writes.flush(redis);
        const expected = calls.map((c) => model.get(c.conversationId)!.apply(c, saw));
        expect({ step, calls, results: calls.map((c, i) => observed(c, results[i])) }).toEqual({
          step,
          calls,
          results: expected,
        });
        // What was written, read back through the read side's scripts (sent together).
        const asked = [...new Set(calls.map((c) => c.conversationId))].flatMap((id) =>
          gen.usersOf(id).map((user) => ({ id, user })),
        );
        const rows = await Promise.all(
          asked.map(async ({ id, user }) => (await readModel.unreadMany([id], user))[0]!),
        );
        expect({
          step,
          unread: asked.map(({ id, user }, i) => ({
            id,
            user,
            unread: rows[i]!.unread,
            marked: rows[i]!.markedUnread,
          })),
        }).toEqual({
          step,
          unread: asked.map(({ id, user }) => ({
            id,
            user,
            unread: model.get(id)!.unreadOf(user),
            marked: model.get(id)!.marked.has(user),
          })),
        });
      }

      // Every deleted id answers as deleted to a member (known or not when deleted); no other id.
      let deletedSeen = 0;
      for (const c of gen.conversations) {
        const m = model.get(c.id)!;
        const [viewer] = m.members;
        if (viewer === undefined) continue; // no members: nothing is shown to anyone
        for (const messageId of new Set([...m.deleted.keys(), ...gen.messageIdsOf(c.id)])) {
          const { status } = await details.lookup({ conversationId: c.id, messageId, viewer });
          expect({ conversation: c.id, messageId, deleted: status === 'deleted' }).toEqual({
            conversation: c.id,
            messageId,
            deleted: m.deleted.has(messageId),
          });
          if (status === 'deleted') deletedSeen++;
        }
      }
      expect(deletedSeen).toBeGreaterThan(0);
    },
    300_000,
  );

  it('reached every rule', () => {
    const rules = [
      'deletion removed a message',
      'deletion of an id deleted before',
      'deletion of an id never sent',
      'deletion caught a member up',
      'deletion left a marked member unread',
      'deleted id sent again: ignored',
      'read of a deleted id refused',
      'delivery naming only deleted ids refused',
      'delivery by ids skipped a deleted id',
      'marked unread',
      'marked again: no change',
      'mark cleared by a read',
      'marked with nothing unread shows 1',
    ];
    expect(rules.filter((r) => !seen.get(r))).toEqual([]);
  });
});

/** What the model states of a call's results: the parts the new rules decide. */
function observed(call: Call, result: unknown): unknown {
  if (call.type === 'deletions')
    return (result as MessageDeletedResult[]).map((r) => ({
      removed: r.removed,
      seq: r.seq,
      sender: r.sender,
      caughtUp: [...r.caughtUp].sort(),
      recounted: [...r.recounted].sort((a, b) => a.userId.localeCompare(b.userId)),
    }));
  if (call.type === 'receipts')
    return (result as ReceiptResult[]).map((r) =>
      r.applied
        ? { applied: true, unread: r.unread, read: r.read, unreadMark: r.unreadMark }
        : { applied: false, reason: r.reason },
    );
  return null; // messages and members: the Lua differential's, only their effects checked here
}

/**
 * One conversation as issue 14 describes it, with just what the new rules need: members, the
 * message index (id → seq, sender), the deleted ids (→ seq when known, else 0), read watermarks,
 * the marks as unread, the last seq. Unread = indexed messages above the watermark, at least 1
 * while marked.
 */
class ModelConversation {
  readonly members = new Set<string>();
  readonly index = new Map<string, { seq: number; sender: string }>();
  readonly deleted = new Map<string, number>();
  readonly read = new Map<string, number>();
  readonly marked = new Set<string>();
  lastSeq = 0;

  unreadOf(user: string): number {
    const after = this.countAfter(this.read.get(user) ?? 0);
    return this.marked.has(user) ? Math.max(1, after) : after;
  }

  apply(call: Call, saw: (rule: string) => void): unknown {
    if (call.type === 'members') return this.membersChanged(call.events);
    if (call.type === 'messages') return this.messagesSent(call.events, saw);
    if (call.type === 'deletions') return call.events.map((d) => this.deleteMessage(d, saw));
    return call.events.map((r) => this.receipt(r, saw));
  }

  private countAfter(seq: number): number {
    let n = 0;
    for (const m of this.index.values()) if (m.seq > seq) n++;
    return n;
  }

  /** A joiner has read what was sent before it joined (set once: a replayed join moves nothing). */
  private membersChanged(changes: MemberChange[]): null {
    const joined: string[] = [];
    for (const c of changes) {
      if (c.op === 'add') {
        this.members.add(c.userId);
        joined.push(c.userId);
      } else this.members.delete(c.userId);
    }
    for (const user of joined) if (!this.read.has(user)) this.read.set(user, this.lastSeq);
    return null;
  }

  /** A deleted id never comes back; a sender has read up to its message; senders are members. */
  private messagesSent(messages: SentMessage[], saw: (rule: string) => void): null {
    for (const m of messages) this.members.add(m.senderId);
    for (const m of messages) {
      if (this.deleted.has(m.messageId)) {
        saw('deleted id sent again: ignored');
        continue;
      }
      this.index.set(m.messageId, { seq: m.seq, sender: m.senderId });
      this.lastSeq = Math.max(this.lastSeq, m.seq);
      this.read.set(m.senderId, Math.max(this.read.get(m.senderId) ?? 0, m.seq));
    }
    return null;
  }

  /**
   * The id is remembered as deleted; a message the index knew stops counting for everyone. A
   * member for whom it was the last unread (not its sender, not marked) is caught up.
   */
  private deleteMessage({ messageId }: DeletedMessage, saw: (rule: string) => void): unknown {
    const message = this.index.get(messageId);
    const seq = message?.seq ?? this.deleted.get(messageId) ?? 0;
    if (!this.deleted.has(messageId)) this.deleted.set(messageId, seq);
    if (!message) {
      saw(seq > 0 ? 'deletion of an id deleted before' : 'deletion of an id never sent');
      return { removed: false, seq, sender: null, caughtUp: [], recounted: [] };
    }
    saw('deletion removed a message');
    this.index.delete(messageId);
    const caughtUp: string[] = [];
    // Everyone it counted for hears their new count (a marked member still sees at least 1).
    const recounted: Array<{ userId: string; unread: number; readUpTo: number }> = [];
    for (const member of this.members) {
      const read = this.read.get(member) ?? 0;
      if (member === message.sender || read >= seq) continue;
      const left = this.countAfter(read);
      const marked = this.marked.has(member);
      recounted.push({ userId: member, unread: marked ? Math.max(1, left) : left, readUpTo: read });
      if (marked) {
        if (left === 0) saw('deletion left a marked member unread');
        continue;
      }
      if (left === 0) caughtUp.push(member);
    }
    if (caughtUp.length > 0) saw('deletion caught a member up');
    return {
      removed: true,
      seq,
      sender: message.sender,
      caughtUp: caughtUp.sort(),
      recounted: recounted.sort((a, b) => a.userId.localeCompare(b.userId)),
    };
  }

  /**
   * Mark as unread: a flag, no watermark moves, unread at least 1. Any applied read (by seq or by
   * a live id) clears it. A read of a deleted id, or a delivery naming only deleted ids, is
   * refused (MESSAGE_DELETED); a delivery skips the deleted ids it names among live ones.
   */
  private receipt(r: ReceiptInput, saw: (rule: string) => void): unknown {
    const user = r.userId;
    if (!this.members.has(user)) return { applied: false, reason: 'NOT_A_MEMBER' };
    const read = () => this.read.get(user) ?? 0;
    const applied = (unread: number, unreadMark?: 'set' | 'cleared') => ({
      applied: true,
      unread,
      read: read(),
      unreadMark,
    });
    const c = r.command;
    if (c.type === 'mark_unread') {
      if (this.marked.has(user)) saw('marked again: no change');
      else saw('marked unread');
      if (this.countAfter(read()) === 0) saw('marked with nothing unread shows 1');
      const set = !this.marked.has(user);
      this.marked.add(user);
      return applied(Math.max(1, this.countAfter(read())), set ? 'set' : undefined);
    }
    let target: number;
    if (c.type === 'read' || c.type === 'dlv_seq') {
      if (c.seq > this.lastSeq) return { applied: false, reason: 'SEQ_NOT_REACHED' };
      target = c.seq;
    } else {
      const ids = c.type === 'read_id' ? [c.messageId] : c.messageIds;
      const live = ids.filter((id) => !this.deleted.has(id));
      const unknown = live.find((id) => !this.index.has(id));
      if (unknown !== undefined) return { applied: false, reason: 'UNKNOWN_MESSAGE' };
      if (live.length === 0) {
        saw(
          c.type === 'read_id'
            ? 'read of a deleted id refused'
            : 'delivery naming only deleted ids refused',
        );
        return { applied: false, reason: 'MESSAGE_DELETED' };
      }
      if (live.length < ids.length) saw('delivery by ids skipped a deleted id');
      target = Math.max(...live.map((id) => this.index.get(id)!.seq));
    }
    if (c.type === 'dlv_seq' || c.type === 'dlv_ids') return applied(0);
    this.read.set(user, Math.max(read(), target));
    const cleared = this.marked.delete(user);
    if (cleared) saw('mark cleared by a read');
    return applied(this.countAfter(read()), cleared ? 'cleared' : undefined);
  }
}
