import type { Counter } from 'prom-client';
import type { PersisterService } from '../services/persister-service';
import { CassandraReceiptDetails } from '../stores/cassandra/cassandra-receipt-details';
import { RedisReceiptDetails } from '../stores/redis/receipt-details';
import type { ReceiptDetailsQuery } from '../stores/receipt-details-source';
import { TypeName, type MessageSent } from '../schemas/types';
import { Workload, type WorkloadOptions } from '../scripts/traffic/workload';
import {
  caughtUp,
  createHarness,
  eventually,
  persisterCaughtUp,
  scanKeys,
  snapshot,
  type Harness,
} from './support/harness';
import { durableModel, storedHistory } from './support/durable-model';
import { runScript } from './support/run-script';
import { murmur2 } from '../runtime/kafka/java-partitioner';
import { conversationWatermarks } from './support/watermarks';

/**
 * Issue 4: the persister writes the changelog to Cassandra (every message, delivery and read
 * advance, the latest watermark per key); receipt details read from Cassandra equal those from
 * Redis; after a Redis loss, `npm run rebuild` puts back what users see.
 */
const WORKLOAD: WorkloadOptions = {
  seed: 23,
  users: 50,
  directChats: 25,
  groups: 4,
  groupSize: 10,
  maxBurst: 4,
};
const EVENTS = 2500;
const LATE = { conversation: 'group-0', user: 'late-joiner' };

describe('durable state in Cassandra', () => {
  let h: Harness;
  let persister: PersisterService;
  let workload: Workload;
  let conversations: Array<{ id: string; members: string[] }>;
  const sent = new Map<string, MessageSent[]>();

  beforeAll(async () => {
    h = await createHarness(
      {
        TICKS_WATERMARK_FLUSH_INTERVAL_MS: '1000',
        TICKS_PENDING_RECEIPT_WAIT_MS: '60000',
        TICKS_SESSION_TIMEOUT_MS: '6000',
      },
      { cassandra: true },
    );
    persister = await h.startPersister();
    workload = new Workload(h.publish, WORKLOAD);
    workload.setUp();
    await h.publish.flush();
    for (let n = 0; n < EVENTS; n += 500) {
      workload.step(500);
      await h.publish.flush();
    }
    await caughtUp(h, 120_000);
    // Deliveries by id (the workload reports positions only), and a member who joins late.
    await eventually('the changelog to be collected', () => h.out.stateChanges.length > EVENTS / 2);
    for (const change of h.out.stateChanges) {
      if (!(TypeName.MessageSent in change.change)) continue;
      const list = sent.get(change.conversation_id) ?? [];
      list.push(change.change[TypeName.MessageSent]);
      sent.set(change.conversation_id, list);
    }
    for (const c of workload.conversationList.filter((c) => c.kind === 'GROUP')) {
      const ids = (sent.get(c.id) ?? []).slice(-3).map((m) => m.message_id);
      if (ids.length > 0) h.publish.delivered(c.id, c.members[1]!, { messageIds: ids }, 'tablet');
    }
    h.publish.memberAdded(LATE.conversation, LATE.user, 'GROUP');
    await h.publish.flush();
    await caughtUp(h, 60_000);
    await persisterCaughtUp(h);
    const changelog = await h.kafka.withAdmin((a) => a.endOffsets(h.topics.stateChanges));
    const total = [...changelog.values()].reduce((n, end) => n + Number(end), 0);
    await eventually('the whole changelog to be collected', () => h.out.changelogRecords >= total);
    conversations = workload.conversationList.map((c) => ({
      id: c.id,
      members: c.id === LATE.conversation ? [...c.members, LATE.user] : [...c.members],
    }));
  }, 300_000);

  afterAll(async () => {
    await h?.close();
  });

  it('migrations are applied once: running the command again changes nothing', async () => {
    const result = await runScript(h, 'cassandra-migrate.ts', []);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/applied now\s+nothing/);
    expect(result.stdout).toMatch(/already applied\s+001-keyspace, 002-durable-state/);
  });

  it('holds the latest watermarks of every member, equal to Redis', async () => {
    const durable = h.durable!;
    let compared = 0;
    for (const c of conversations) {
      const [watermarks, joins] = await Promise.all([
        durable.watermarks(c.id),
        durable.joins(c.id),
      ]);
      const stored = await conversationWatermarks(h.redis, h.keys, c.id);
      for (const u of c.members) {
        const redisRead = Number(stored.read[u] ?? 0);
        const redisDelivered = Number(stored.delivered[u] ?? 0);
        const joined = joins.get(u) ?? 0;
        const read = Math.max(watermarks.get(u)?.readSeq ?? 0, joined);
        const delivered = Math.max(watermarks.get(u)?.deliveredSeq ?? 0, joined, read);
        expect({ key: `${c.id}/${u}`, read, delivered }).toEqual({
          key: `${c.id}/${u}`,
          read: redisRead,
          delivered: redisDelivered,
        });
        compared++;
      }
    }
    expect(compared).toBe(conversations.reduce((n, c) => n + c.members.length, 0));
    // The late joiner starts with everything sent before they joined read, as in Redis.
    expect((await durable.joins(LATE.conversation)).get(LATE.user)).toBeGreaterThan(0);
  });

  it("logs a step's changes as one record, on the partition of their conversations", async () => {
    // Batched: far fewer records than changes (a record per step and partition).
    expect(h.out.changelogRecords * 5).toBeLessThan(h.out.stateChanges.length);
    const partitions = h.config.topics.partitions;
    for (const [conversationId, seen] of h.out.changelogPartitions) {
      const own = (murmur2(Buffer.from(conversationId)) & 0x7fffffff) % partitions;
      expect({ conversationId, partitions: [...seen] }).toEqual({
        conversationId,
        partitions: [own],
      });
    }
    expect(h.out.changelogPartitions.size).toBe(conversations.length);
  });

  it('holds every message, delivery by id and watermark advance, once, with its time', async () => {
    const model = durableModel(h.out.stateChanges);
    const stored = await storedHistory(h.cassandra!, h.durable!, model);
    expect(stored.messages).toEqual(model.messages);
    expect(stored.deliveredById).toEqual(model.deliveredById);
    expect(stored.readAdvances).toEqual(model.readAdvances);
    expect(stored.deliveredAdvances).toEqual(model.deliveredAdvances);
    expect(model.deliveredById.size).toBeGreaterThan(0);
    expect(model.readAdvances.size).toBeGreaterThan(10);
    expect(model.deliveredAdvances.size).toBeGreaterThan(10);
  });

  it('coalesces watermarks: fewer watermark writes than watermark changes', async () => {
    const total = async (metric: Counter) =>
      (await metric.get()).values
        .filter((v) => v.labels['table'] === undefined || v.labels['table'] === 'watermarks')
        .reduce((n, v) => n + v.value, 0);
    const changes = await total(persister.metrics.watermarksCoalesced);
    const writes = await total(persister.metrics.rowsWritten);
    expect(changes).toBeGreaterThan(0);
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(changes);
  });

  it('answers receipt details from Cassandra exactly as Redis does', async () => {
    const redisSource = new RedisReceiptDetails(h.redis, h.keys);
    const cassandraSource = new CassandraReceiptDetails(h.durable!);
    let compared = 0;
    for (const c of conversations.slice(0, 8).concat(conversations.slice(-4))) {
      for (const m of (sent.get(c.id) ?? []).slice(-6)) {
        const query: ReceiptDetailsQuery = {
          conversationId: c.id,
          messageId: m.message_id,
          viewer: m.sender_id,
        };
        const fromRedis = await redisSource.lookup(query);
        expect(fromRedis.status).toBe('found');
        expect({ message: m.message_id, answer: await cassandraSource.lookup(query) }).toEqual({
          message: m.message_id,
          answer: fromRedis,
        });
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(20);
    expect(
      (await cassandraSource.lookup({ conversationId: 'group-1', messageId: 'nope', viewer: 'x' }))
        .status,
    ).toBe('not_member');
  });

  it('rebuilds Redis after its loss: unread counts, badges, watermarks, members and lists as before', async () => {
    await h.stopPipeline();
    const users = [...new Set(conversations.flatMap((c) => c.members))];
    const before = await snapshot(h, conversations);
    // Each user's conversations by latest message: the same order and times after the rebuild.
    const lists = async () =>
      Object.fromEntries(
        await Promise.all(
          users.map(async (u) => [
            u,
            await h.redis.zrange(h.keys.userConversations(u), '0', '-1', 'WITHSCORES'),
          ]),
        ),
      );
    const members = async () =>
      Object.fromEntries(
        await Promise.all(conversations.map(async (c) => [c.id, await h.read.members(c.id)])),
      );
    const listsBefore = await lists();
    const membersBefore = await members();
    const sample = conversations
      .slice(0, 6)
      .flatMap((c) => (sent.get(c.id) ?? []).slice(-3).map((m) => ({ c: c.id, m })));
    const redisSource = new RedisReceiptDetails(h.redis, h.keys);
    const detailsBefore = await Promise.all(
      sample.map(({ c, m }) =>
        redisSource.lookup({ conversationId: c, messageId: m.message_id, viewer: m.sender_id }),
      ),
    );
    const marks = await scanKeys(h.aux, h.keys.dedupeMarks());
    expect(marks.length).toBeGreaterThan(0);

    // The loss: every key of this test's prefix on the main Redis (never FLUSHALL: shared server).
    const lost = await scanKeys(h.redis, h.keys.all());
    await h.redis.del(...lost);
    expect(await scanKeys(h.redis, h.keys.all())).toEqual([]);

    const dry = await runScript(h, 'rebuild.ts', ['--dry-run']);
    expect(dry.stderr).not.toMatch(/error/);
    expect(dry.stdout).toMatch(/dry run: nothing written/);
    expect(await scanKeys(h.redis, h.keys.all())).toEqual([]);

    const result = await runScript(h, 'rebuild.ts', []);
    expect(result.stderr).not.toMatch(/error/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`conversations\\s+${conversations.length}\\b`));
    expect(result.stdout).toMatch(/not rebuilt/);
    expect(await scanKeys(h.aux, h.keys.dedupeMarks())).toEqual([]);

    expect(await snapshot(h, conversations)).toEqual(before);
    expect(await lists()).toEqual(listsBefore);
    expect(await members()).toEqual(membersBefore);
    // A new source: the first one would answer from the answers it holds where the rebuilt
    // state has their fingerprint, and the rebuilt logs must answer alike on their own.
    const rebuiltSource = new RedisReceiptDetails(h.redis, h.keys);
    const detailsAfter = await Promise.all(
      sample.map(({ c, m }) =>
        rebuiltSource.lookup({ conversationId: c, messageId: m.message_id, viewer: m.sender_id }),
      ),
    );
    expect(detailsAfter).toEqual(detailsBefore);

    // Twice changes nothing.
    expect((await runScript(h, 'rebuild.ts', [])).code).toBe(0);
    expect(await snapshot(h, conversations)).toEqual(before);

    // And the pipeline carries on from the rebuilt state.
    await h.startPipeline();
    const dm = workload.conversationList.find((c) => c.kind === 'DIRECT')!;
    const [a, b] = dm.members;
    const next = Math.max(0, ...(sent.get(dm.id) ?? []).map((m) => m.seq)) + 1;
    h.publish.messageSent(dm.id, {
      messageId: `${dm.id}:${next}`,
      seq: next,
      senderId: a!,
      kind: 'DIRECT',
    });
    await h.publish.flush();
    await eventually('the new message to reach the rebuilt badge', async () =>
      (await h.read.badge(b!)).includes(a!),
    );
  }, 240_000);
});
