import { randomBytes } from 'node:crypto';
import { recordingContext } from '../../tests/support/recording-context';
import type { RedisClient } from '../../stores/redis/connect';
import { TypeName } from '../../schemas/types';
import { RedisKeys } from '../../stores/redis/keys';
import { PartitionIndex } from '../../stores/redis/partition-index';
import { WriteSet } from '../../stores/state/write-set';
import { ReadModel } from '../../stores/redis/read-model';
import { BADGE_SCORE, badgeMember } from '../../stores/redis/badge-entries';
import { UserStore } from '../../stores/redis/user-store';
import type { InboundRecord } from '../../runtime/kafka/types';
import { PipelineMetrics } from '../../runtime/metrics';
import { connectMainAndAux } from '../../tests/support/redis-state';
import { writeThroughEngine } from '../../tests/support/engine-steps';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { UpdateEmitter } from '../notifier/update-emitter';
import { BadgeUpdater } from '../unread/badge-updater';
import { VisibleBadge } from '../unread/visible-badge';
import { parseHeld } from './held-entry';
import { HeldReceipts } from './held-receipts';
import { ConversationStates } from '../../stores/state/conversation-states';
import { StateSteps } from '../state-steps';
import { ReceiptApplier } from './receipt-applier';
import { ConversationProcessor } from '../conversation/conversation-processor';
import type { ConversationEvent } from '../../schemas/types';
import type { ReceiptJob } from './receipt-job';

/**
 * Held receipts against a real Redis: held in the readable format, released when their
 * conversation reaches them, expired to the dead letters, and entries written by the previous
 * version (short keys) handled the same way.
 */
describe('HeldReceipts (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}h`;
  const keys = new RedisKeys(prefix);
  const partition = 2;
  const waitMs = 30_000;
  let redis: RedisClient;
  let aux: RedisClient;
  let states: ConversationStates;
  let applier: ReceiptApplier;
  let held: HeldReceipts;
  let heldIndex: PartitionIndex;
  let steps: StateSteps;
  let metrics: PipelineMetrics;

  beforeAll(async () => {
    ({ main: redis, aux } = await connectMainAndAux());
    metrics = new PipelineMetrics({ defaultMetrics: false });
    heldIndex = new PartitionIndex(redis, keys, 'held');
    states = new ConversationStates(redis, keys, { maxBytes: 64 * 1024 * 1024 });
    steps = new StateSteps(states, 3600, 2000);
    applier = applierOf(steps, metrics);
    held = new HeldReceipts({
      keys,
      index: heldIndex,
      applier,
      steps,
      metrics,
      waitMs,
      punctuateIntervalMs: 1000,
      maxHeldPerConversation: 5,
      maxHeldPerUser: 3,
    });
  });

  /** The receipt side of a process whose state store is `steps`. */
  function applierOf(steps: StateSteps, metrics: PipelineMetrics): ReceiptApplier {
    return new ReceiptApplier({
      steps,
      badges: new BadgeUpdater(new UserStore(redis, aux, keys, 3600, 600), metrics),
      visibleBadge: new VisibleBadge(new ReadModel(redis, keys), () => new Map()),
      windows: new PartitionIndex(redis, keys, 'windows'),
      emitter: new UpdateEmitter(metrics),
      metrics,
      sharesReads: () => true,
      windowMs: 2000,
      windowGraceMs: 0,
    });
  }

  /**
   * One step of B's reads in a direct chat with A, run by `by` as the receipt processor runs it,
   * up to the point its outputs are produced: what A was told (the statuses' seqs) and how far
   * B's devices were told B read (their unread syncs).
   */
  async function readStep(by: ReceiptApplier, c: string, seq: number, offset: number, now: number) {
    const run = recordingContext(now, { partition });
    const jobs = [readJob(c, seq, offset, now + waitMs)];
    await by.publishEffects(jobs, await by.apply(jobs, run.ctx), run.ctx);
    const figures = (to: string, type: string, figure: string): number[] =>
      run.sent
        .filter((s) => s.role === 'receiptUpdates' && s.key === to)
        .map((s) => (s.value as { payload: Record<string, Record<string, number>> }).payload)
        .map((payload) => payload[type]?.[figure])
        .filter((n): n is number => n !== undefined);
    return {
      ...run,
      told: figures('A', TypeName.MessageStatusUpdate, 'seq'),
      synced: figures('B', TypeName.UnreadSync, 'read_up_to_seq'),
    };
  }

  afterAll(async () => {
    for (const client of [redis, aux]) {
      if (!client) continue;
      const stale = await scanKeys(client, `${prefix}:*`);
      await deleteKeys(client, stale);
      client.disconnect();
    }
  });

  /** A direct chat of A and B with `messages` messages from A. */
  async function directChat(c: string, messages: number): Promise<void> {
    await writeThroughEngine(
      redis,
      keys,
      [
        {
          conversationId: c,
          type: 'members',
          events: [
            { op: 'add', userId: 'A', kind: 'DIRECT' },
            { op: 'add', userId: 'B', kind: 'DIRECT' },
          ],
        },
      ],
      3600,
    );
    await send(c, 1, messages);
  }

  async function send(c: string, from: number, to: number): Promise<void> {
    const messages = [];
    for (let seq = from; seq <= to; seq++)
      messages.push({
        messageId: `${c}-${seq}`,
        seq,
        senderId: 'A',
        kind: 'DIRECT' as const,
        sentAt: seq,
      });
    await writeThroughEngine(
      redis,
      keys,
      [{ conversationId: c, type: 'messages', events: messages }],
      3600,
    );
    // Written past the owner's memory (as another writer would): it reloads them.
    states.resetPartition(partition);
  }

  const record = (c: string, offset: number): InboundRecord => ({
    topic: 'receipt_events',
    partition,
    offset: String(offset),
    timestamp: 1_000 + offset,
    key: Buffer.from(c),
    value: Buffer.from(`original bytes of ${c}@${offset}`),
  });

  /** B read up to `seq`, as the receipt processor hands it over. */
  const readJob = (c: string, seq: number, offset: number, deadline: number): ReceiptJob => ({
    conversationId: c,
    userId: 'B',
    deviceId: 'phone',
    occurredAt: 5_000,
    command: { type: 'read', seq },
    version: offset,
    record: record(c, offset),
    deadline,
  });

  /** A held entry as the version before wrote it. */
  async function holdInOldFormat(c: string, seq: number, offset: number, deadline: number) {
    const r = record(c, offset);
    const entry = JSON.stringify({
      c,
      u: 'B',
      d: 'phone',
      at: 5_000,
      cmd: { type: 'read', seq },
      dl: deadline,
      why: 'SEQ_NOT_REACHED',
      t: r.topic,
      p: r.partition,
      o: r.offset,
      ts: r.timestamp,
      k: r.key!.toString('base64'),
      v: r.value!.toString('base64'),
    });
    await redis.zadd(keys.conversationKey(c, 'held'), deadline, entry);
    const writes = new WriteSet();
    await heldIndex.schedule([{ partition, conversationId: c, at: deadline }], writes);
    await writes.flush(redis);
    states.resetPartition(partition); // written past the owner's memory: it reloads them
  }

  const heldEntries = (c: string) => redis.zrange(keys.conversationKey(c, 'held'), 0, '-1');
  const indexed = (c: string) => redis.zscore(keys.heldReceipts(partition), c);

  it('tells a held read, applied late, with a higher version than the later, lower read told before it', async () => {
    const c = 'late';
    await directChat(c, 2);
    const now = Date.now();
    const versionsTo = (sent: Array<{ role: string; key: string; value: unknown }>) =>
      sent
        .filter((o) => o.role === 'receiptUpdates' && o.key === 'A')
        .map((o) => {
          const update = o.value as { version: number; payload: Record<string, { seq: number }> };
          return {
            seq: update.payload[TypeName.MessageStatusUpdate]!.seq,
            version: update.version,
          };
        });
    // read 3 (offset 10) comes before message 3: held; read 2 (offset 11) applies and is told.
    const first = recordingContext(now, { partition });
    const jobs = [readJob(c, 3, 10, now + waitMs), readJob(c, 2, 11, now + waitMs)];
    const results = await applier.apply(jobs, first.ctx);
    await Promise.all([
      applier.publishEffects(jobs, results, first.ctx),
      held.settle(jobs, results, first.ctx),
    ]);
    await first.afterSend();
    const told = versionsTo(first.sent);
    expect(told.map((t) => t.seq)).toEqual([2]);

    // Message 3 arrives; the held read 3 applies now and is told after read 2.
    await send(c, 3, 3);
    const retry = recordingContext(now + 1000, { partition });
    await held.retry([{ partition, conversationId: c }], retry.ctx);
    await retry.afterSend();
    const late = versionsTo(retry.sent);
    expect(late.map((t) => t.seq)).toEqual([3]);
    expect(late[0]!.version).toBeGreaterThan(told[0]!.version);
  });

  it('releases the sender’s status update before the badge round trips; the reader’s sync, which carries the badge, goes at the end', async () => {
    const c = 'released';
    await directChat(c, 3);
    const run = await readStep(applier, c, 3, 40, Date.now());
    expect(run.told).toEqual([3]);
    expect(run.synced).toEqual([3]);
    // One release, holding A's status update only (the runtime sends it at once).
    expect(run.releasedAt).toHaveLength(1);
    const released = run.sent.slice(0, run.releasedAt[0]);
    expect(released.map((s) => [s.role, s.key])).toEqual([['receiptUpdates', 'A']]);
  });

  it('a reply’s READ to its peer is released before the step’s badge writes end (the conversation processor)', async () => {
    const c = 'reply-released';
    await directChat(c, 2);
    const users = new UserStore(redis, aux, keys, 3600, 600);
    const processor = new ConversationProcessor({
      steps,
      users,
      badges: new BadgeUpdater(users, metrics),
      held,
      metrics,
      windowing: {
        windows: new PartitionIndex(redis, keys, 'windows'),
        windowMs: 2000,
        windowGraceMs: 0,
        emitter: new UpdateEmitter(metrics),
        sharesReads: () => true,
      },
      visibleBadge: new VisibleBadge(new ReadModel(redis, keys), () => new Map()),
    });
    const now = Date.now();
    const run = recordingContext(now, { partition });
    const reply: ConversationEvent = {
      event_id: 'reply-3',
      conversation_id: c,
      occurred_at: now,
      payload: {
        [TypeName.MessageSent]: {
          message_id: `${c}-3`,
          seq: 3,
          sender_id: 'B',
          kind: 'DIRECT',
          sent_at: now,
        },
      },
    };
    const input = { ...record(c, 50), topic: 'conversation_events' };
    await processor.process([{ record: input, value: reply }], run.ctx);
    await run.settleWork();
    expect(run.releasedAt).toHaveLength(1);
    const released = run.sent.slice(0, run.releasedAt[0]).map((s) => ({
      role: s.role,
      to: s.key,
      status: (s.value as { payload: Record<string, unknown> }).payload[
        TypeName.MessageStatusUpdate
      ],
    }));
    expect(released).toEqual([
      {
        role: 'receiptUpdates',
        to: 'A',
        status: expect.objectContaining({ status: 'READ', seq: 2, by: 'B' }),
      },
    ]);
  });

  it('holds a receipt that cannot apply yet, and releases it once its message arrives', async () => {
    const c = 'fresh';
    await directChat(c, 2);
    const now = Date.now();
    const first = recordingContext(now, { partition });
    const jobs = [readJob(c, 3, 10, now + waitMs)];
    const results = await applier.apply(jobs, first.ctx);
    expect(results).toEqual([{ applied: false, reason: 'SEQ_NOT_REACHED' }]);
    await held.settle(jobs, results, first.ctx);
    expect(await heldEntries(c)).toEqual([]); // written behind, after the step's outputs
    await first.afterSend();

    const entries = await heldEntries(c);
    expect(entries).toHaveLength(1);
    expect(parseHeld(entries[0]!, now + waitMs)).toMatchObject({
      conversationId: c,
      userId: 'B',
      command: { type: 'read', seq: 3 },
      deadline: now + waitMs,
      record: { topic: 'receipt_events', partition, offset: '10' },
    });
    expect(Number(await indexed(c))).toBe(now + waitMs);

    await send(c, 3, 3);
    const retry = recordingContext(now + 1000, { partition });
    await held.retry([{ partition, conversationId: c }], retry.ctx);
    await retry.afterSend();
    expect(await heldEntries(c)).toEqual([]);
    expect(await indexed(c)).toBeNull();
    expect(retry.deadLetters).toEqual([]);
    expect(retry.changes).toEqual([
      expect.objectContaining({ conversation_id: c, source_offset: 10 }),
    ]);
    expect(retry.sent).toContainEqual(
      expect.objectContaining({
        role: 'receiptUpdates',
        key: 'A',
        value: expect.objectContaining({
          payload: {
            [TypeName.MessageStatusUpdate]: expect.objectContaining({
              seq: 3,
              status: 'READ',
              by: 'B',
            }),
          },
        }),
      }),
    );
  });

  it('holds a redelivered receipt once, and dead-letters receipts beyond the caps with their reason', async () => {
    const c = 'flood';
    await directChat(c, 1);
    const now = Date.now();
    const hold = async (jobs: ReceiptJob[], at: number) => {
      const ctx = recordingContext(at, { partition });
      await held.settle(jobs, await applier.apply(jobs, ctx.ctx), ctx.ctx);
      await ctx.afterSend();
      return ctx;
    };
    // B's read of message 5 (not sent yet), then the same record again later (a replay).
    await hold([readJob(c, 5, 20, now + waitMs)], now);
    const replay = await hold([readJob(c, 5, 20, now + 5_000 + waitMs)], now + 5_000);
    expect(replay.deadLetters).toEqual([]);
    expect(await heldEntries(c)).toHaveLength(1);
    expect(
      Number(await redis.zscore(keys.conversationKey(c, 'held'), (await heldEntries(c))[0]!)),
    ).toBe(now + waitMs); // the first deadline stands

    // B may hold 3 (maxHeldPerUser): two more are held, the fourth is refused.
    const more = await hold(
      [21, 22, 23].map((offset) => readJob(c, 5, offset, now + waitMs)),
      now,
    );
    expect(await heldEntries(c)).toHaveLength(3);
    expect(more.deadLetters).toEqual([
      expect.objectContaining({
        reason: 'SEQ_NOT_REACHED',
        detail: expect.stringContaining('TICKS_MAX_HELD_PER_USER'),
        record: expect.objectContaining({ offset: '23' }),
      }),
    ]);
    // Others fill the conversation up to 5 (maxHeldPerConversation); then nobody is held.
    const others = [30, 31, 32].map((offset) => ({
      ...readJob(c, 5, offset, now + waitMs),
      userId: `X${offset}`,
    }));
    const full = await hold(others, now);
    expect(await heldEntries(c)).toHaveLength(5);
    expect(full.deadLetters).toEqual([
      expect.objectContaining({
        detail: expect.stringContaining('TICKS_MAX_HELD_PER_CONVERSATION'),
        record: expect.objectContaining({ offset: '32' }),
      }),
    ]);
  });

  it('a release whose step never flushed (a crash) leaves the receipt held: the redo releases and tells it', async () => {
    const c = 'crash-release';
    await directChat(c, 2);
    const now = Date.now();
    const first = recordingContext(now, { partition });
    const jobs = [readJob(c, 3, 50, now + waitMs)];
    await held.settle(jobs, await applier.apply(jobs, first.ctx), first.ctx);
    await first.afterSend();
    await send(c, 3, 3);

    // The retry applies it, but the process dies before the step's outputs and flush.
    const lost = recordingContext(now + 1000, { partition });
    await held.retry([{ partition, conversationId: c }], lost.ctx);
    expect(lost.sent.length).toBeGreaterThan(0);
    states.resetPartition(partition); // the next owner starts from Redis
    expect(await heldEntries(c)).toHaveLength(1);
    expect(await indexed(c)).not.toBeNull();

    const redo = recordingContext(now + 2000, { partition });
    await held.retry([{ partition, conversationId: c }], redo.ctx);
    await redo.afterSend();
    expect(await heldEntries(c)).toEqual([]);
    expect(await indexed(c)).toBeNull();
    expect(redo.changes).toEqual([
      expect.objectContaining({ conversation_id: c, source_offset: 50 }),
    ]);
    expect(redo.sent).toContainEqual(
      expect.objectContaining({
        role: 'receiptUpdates',
        key: 'A',
        value: expect.objectContaining({
          payload: {
            [TypeName.MessageStatusUpdate]: expect.objectContaining({ seq: 3, status: 'READ' }),
          },
        }),
      }),
    );
  });

  it('a step whose partition lease was lost meanwhile writes nothing to Redis', async () => {
    const c = 'fenced';
    await directChat(c, 2);
    await redis.zadd(keys.userConversations('B'), BADGE_SCORE, badgeMember('A')); // B has not read A's messages
    await aux.del(keys.dedupeMark('A', 'B')); // and no mark says otherwise
    const now = Date.now();
    // Read 3 cannot apply yet (held, and indexed); read 2 reads to the end (badge, sync).
    const lost = recordingContext(now, { partition, leaseHeld: false });
    const jobs = [readJob(c, 3, 60, now + waitMs), readJob(c, 2, 61, now + waitMs)];
    const results = await applier.apply(jobs, lost.ctx);
    expect(results.map((r) => r.applied)).toEqual([false, true]);
    // Settling writes nothing itself: the held entry and its index entry wait in the step's
    // write-behind, which a step that lost its lease never flushes (and a late flush is fenced).
    await held.settle(jobs, results, lost.ctx);
    await expect(applier.publishEffects(jobs, results, lost.ctx)).rejects.toThrow('lease lost');
    expect(await indexed(c)).toBeNull();
    expect(await new ReadModel(redis, keys).badge('B')).toEqual(['A']);
    expect(await heldEntries(c)).toEqual([]);
    states.resetPartition(partition); // the step failed: its changes in memory are dropped
  });

  it('a step redone after its write-behind was lost tells the sender nothing it heard already, nor the reader’s devices an older read; one never sent is told again', async () => {
    const now = Date.now();
    /** One step of B's reads, as the receipt processor runs it. */
    const step = (c: string, seq: number, offset: number) => readStep(applier, c, seq, offset, now);
    // Lost write-behinds, their updates out: one step's lease was lost once Kafka had them (no
    // after-send hook ran), another's flush was under way when a reset abandoned it (a failover).
    const lose = async (
      leaseLost: { acknowledge: () => void },
      flushing: { afterSend: () => Promise<unknown> },
    ) => {
      leaseLost.acknowledge();
      const flush = flushing.afterSend().catch(() => undefined);
      states.resetPartition(partition);
      await flush;
    };

    const c = 'redo-told';
    await directChat(c, 3);
    const first = await step(c, 2, 70);
    const second = await step(c, 3, 71);
    expect([first.told, second.told]).toEqual([[2], [3]]);
    expect([first.synced, second.synced]).toEqual([[2], [3]]);
    await lose(first, second);
    expect(await redis.hget(keys.conversationKey(c, 'meta'), 'tr:B')).toBeNull(); // Redis: older
    // Redone from what Redis holds: READ 2 again would land after READ 3 with a newer version.
    const redone = [await step(c, 2, 70), await step(c, 3, 71)];
    expect(redone.map((r) => r.told)).toEqual([[], []]);
    // B's devices: not read 2 again after 3 (3 again is the same content).
    expect(redone.map((r) => r.synced)).toEqual([[], [3]]);

    // A step whose updates never went out (no flush called) is told again by its redo.
    const d = 'redo-untold';
    await directChat(d, 2);
    const unsent = await step(d, 2, 80);
    expect([unsent.told, unsent.synced]).toEqual([[2], [2]]);
    states.resetPartition(partition);
    const again = await step(d, 2, 80);
    expect([again.told, again.synced]).toEqual([[2], [2]]);
  });

  it('the next owner, redoing steps whose updates went out and whose write-behinds never landed, tells the sender nothing older and the reader’s devices no older read; what never went out is told', async () => {
    const now = Date.now();
    const step = (by: ReceiptApplier, c: string, seq: number, offset: number) =>
      readStep(by, c, seq, offset, now);
    /** A process of its own: nothing in memory but what Redis holds. */
    const nextOwner = () => {
      const own = new ConversationStates(redis, keys, { maxBytes: 64 * 1024 * 1024 });
      return applierOf(
        new StateSteps(own, 3600, 2000),
        new PipelineMetrics({ defaultMetrics: false }),
      );
    };

    const c = 'crash-told';
    await directChat(c, 4);
    const first = nextOwner();
    const sent = [await step(first, c, 2, 90), await step(first, c, 3, 91)];
    // Both produced (their marks written ahead first), neither flushed: the process dies.
    for (const s of sent) {
      await s.beforeSend();
      s.acknowledge();
    }
    expect(sent.map((s) => [s.told, s.synced])).toEqual([
      [[2], [2]],
      [[3], [3]],
    ]);
    expect(await redis.hget(keys.conversationKey(c, 'meta'), 'tr:B')).toBeNull();
    // A step written ahead and never produced: read 4 went nowhere.
    const unsent = await step(first, c, 4, 92);
    await unsent.beforeSend();

    const second = nextOwner();
    const redone = [
      await step(second, c, 2, 90),
      await step(second, c, 3, 91),
      await step(second, c, 4, 92),
    ];
    // Quiet below what may have gone out (READ 3, and READ 4 written ahead): READ 2 or 3 after
    // it, with a newer version, would take the sender's ticks back. READ 4 may never have gone
    // out: it is told (again).
    expect(redone.map((r) => r.told)).toEqual([[], [], [4]]);
    expect(redone.map((r) => r.synced)).toEqual([[], [], [4]]);
    for (const r of redone) await r.afterSend();
    // Landed: the entry goes with the partition's next write ahead (which leaves its own).
    const other = 'crash-told-next';
    await directChat(other, 1);
    expect(await redis.hget(keys.toldAhead(partition), c)).not.toBeNull();
    await (await step(second, other, 1, 93)).afterSend();
    expect(await redis.hget(keys.toldAhead(partition), c)).toBeNull();
    expect(await redis.hget(keys.toldAhead(partition), other)).not.toBeNull();
  });

  it('releases an entry the previous version held (short keys) once it can apply', async () => {
    const c = 'old-release';
    await directChat(c, 2);
    const now = Date.now();
    await holdInOldFormat(c, 3, 20, now + waitMs);
    await send(c, 3, 3);
    const retry = recordingContext(now + 1000, { partition });
    await held.retry([{ partition, conversationId: c }], retry.ctx);
    await retry.afterSend();
    expect(await heldEntries(c)).toEqual([]);
    expect(await indexed(c)).toBeNull();
    expect(retry.deadLetters).toEqual([]);
    expect(retry.changes).toEqual([
      expect.objectContaining({ conversation_id: c, source_offset: 20 }),
    ]);
  });

  it('keeps a held entry whose deadline has not come, and the index at its deadline', async () => {
    const c = 'old-waiting';
    await directChat(c, 2);
    const now = Date.now();
    await holdInOldFormat(c, 5, 30, now + waitMs);
    const retry = recordingContext(now + 1000, { partition });
    await held.retry([{ partition, conversationId: c }], retry.ctx);
    expect(await heldEntries(c)).toHaveLength(1);
    expect(Number(await indexed(c))).toBe(now + waitMs);
    expect(retry.deadLetters).toEqual([]);
    expect(retry.sent).toEqual([]);
  });

  it('dead-letters an expired entry of either format with its original record, on the punctuator', async () => {
    const c = 'expired';
    await directChat(c, 2);
    const now = Date.now();
    await holdInOldFormat(c, 7, 40, now - 1);
    const fresh = recordingContext(now - waitMs - 1, { partition });
    const jobs = [readJob(c, 8, 41, now - 1)];
    await held.settle(jobs, await applier.apply(jobs, fresh.ctx), fresh.ctx);
    await fresh.afterSend();
    expect(await heldEntries(c)).toHaveLength(2);

    const tick = recordingContext(now, { partition });
    await held.punctuate([partition], tick.ctx);
    await tick.afterSend();
    expect(await heldEntries(c)).toEqual([]);
    expect(await indexed(c)).toBeNull();
    expect(tick.sent).toEqual([]);
    expect(
      tick.deadLetters.map((d) => ({
        offset: d.record.offset,
        value: d.record.value,
        reason: d.reason,
      })),
    ).toEqual(
      expect.arrayContaining([
        { offset: '40', value: record(c, 40).value, reason: 'SEQ_NOT_REACHED' },
        { offset: '41', value: record(c, 41).value, reason: 'SEQ_NOT_REACHED' },
      ]),
    );
    expect(tick.deadLetters[0]!.detail).toMatch(
      new RegExp(`^${c} has not reached seq [78] after waiting ${waitMs} ms; nothing was marked$`),
    );
  });
});
