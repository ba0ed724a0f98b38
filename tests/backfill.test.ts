import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RedisReceiptDetails } from '../stores/redis/receipt-details';
import { apiClient } from './support/api-client';
import { startApiServer } from './support/api-server';
import { caughtUp, createHarness, eventually, type Harness } from './support/harness';
import { runScript } from './support/run-script';

/**
 * Issue 4: `npm run backfill` imports a JSON-lines file; bad lines are reported, never dropped.
 * Issue 14: its message_deleted, marked_unread and settings-with-mutes lines reach the query API.
 */
const T = Date.parse('2026-05-01T10:00:00Z');
const at = (s: number) => new Date(T + s * 1000).toISOString();

const LINES = [
  '# a historical direct chat and a group',
  { type: 'member_added', conversation_id: 'bf-dm', user_id: 'ana', kind: 'DIRECT', at: at(0) },
  { type: 'member_added', conversation_id: 'bf-dm', user_id: 'bo', kind: 'DIRECT', at: at(0) },
  {
    type: 'message_sent',
    conversation_id: 'bf-dm',
    message_id: 'm1',
    seq: 1,
    sender_id: 'ana',
    kind: 'DIRECT',
    at: at(1),
  },
  {
    type: 'message_sent',
    conversation_id: 'bf-dm',
    message_id: 'm2',
    seq: 2,
    sender_id: 'ana',
    kind: 'DIRECT',
    at: at(2),
  },
  '{"type":"read","conversation_id":"bf-dm",', // line 6: truncated
  { type: 'read', conversation_id: 'bf-dm', user_id: 'bo', seq: 1, device_id: 'phone', at: at(3) },
  {
    type: 'message_sent',
    conversation_id: 'bf-dm',
    message_id: 'm0',
    seq: 0,
    sender_id: 'ana',
    kind: 'DIRECT',
    at: at(4),
  }, // line 8
  '',
  { type: 'delivered', conversation_id: 'bf-dm', user_id: 'bo', message_ids: ['m2'], at: at(5) },
  { type: 'typing', conversation_id: 'bf-dm', user_id: 'bo', at: at(6) }, // line 11
  { type: 'member_added', conversation_id: 'bf-group', user_id: 'ana', kind: 'GROUP', at: at(0) },
  { type: 'member_added', conversation_id: 'bf-group', user_id: 'cy', kind: 'GROUP', at: at(0) },
  {
    type: 'message_sent',
    conversation_id: 'bf-group',
    message_id: 'g1',
    seq: 1,
    sender_id: 'ana',
    kind: 'GROUP',
    at: 1777629610000,
  },
  { type: 'read', conversation_id: 'bf-group', user_id: 'cy', message_id: 'g1', at: at(12) },
  { type: 'read', conversation_id: 'bf-group', user_id: 'cy', at: at(13) }, // line 16: neither seq nor id
  { type: 'settings', user_id: 'cy', read_receipts_enabled: true, at: at(14) },
].map((l) => (typeof l === 'string' ? l : JSON.stringify(l)));
const BAD = [6, 8, 11, 16];
const GOOD = LINES.length - BAD.length - 2; // minus the comment and the blank line

describe('backfill', () => {
  let h: Harness;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    h = await createHarness();
    dir = mkdtempSync(path.join(tmpdir(), 'ticks-backfill-'));
    file = path.join(dir, 'history.jsonl');
    writeFileSync(file, `${LINES.join('\n')}\n`);
  });

  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const inputRecords = () =>
    h.kafka.withAdmin(async (a) => {
      let n = 0;
      for (const topic of [
        h.topics.conversationEvents,
        h.topics.receiptEvents,
        h.topics.userSettings,
      ])
        for (const end of (await a.endOffsets(topic)).values()) n += Number(end);
      return n;
    });

  it('a dry run reports the bad lines and publishes nothing', async () => {
    const result = await runScript(h, 'backfill.ts', [file, '--dry-run']);
    expect(result.code).toBe(1);
    for (const n of BAD) expect(result.stderr).toMatch(new RegExp(`^line ${n}: `, 'm'));
    expect(result.stdout).toContain(`dry run: ${GOOD} events would be published`);
    expect(await inputRecords()).toBe(0);
    expect(existsSync(`${file}.rejects.jsonl`)).toBe(false);
  });

  it('publishes the good lines, reports and keeps the bad ones with their line numbers', async () => {
    const result = await runScript(h, 'backfill.ts', [file, '--rate', '100']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^error: 4 line\(s\) rejected — see .*history\.jsonl\.rejects\.jsonl$/m,
    );
    expect(result.stderr).toMatch(/^line 6: not JSON/m);
    expect(result.stderr).toMatch(/^line 8: seq must be an integer between 1 and 2\^53-1, got 0$/m);
    expect(result.stderr).toMatch(/^line 11: unknown type "typing"/m);
    expect(result.stderr).toMatch(/^line 16: read needs exactly one of seq and message_id$/m);
    expect(result.stdout).toContain(`published ${GOOD} events`);
    expect(result.stdout).toMatch(/skipped \(blank, #\)\s+2/);

    const rejects = readFileSync(`${file}.rejects.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; error: string; input: string });
    expect(rejects.map((r) => r.line)).toEqual(BAD);
    expect(rejects.map((r) => r.input)).toEqual(BAD.map((n) => LINES[n - 1]));
    expect(await inputRecords()).toBe(GOOD);
  });

  it('the good lines flow through the pipeline', async () => {
    await caughtUp(h);
    await eventually('the read and the delivery to apply', async () => {
      const [watermark, unread, badge] = await Promise.all([
        h.read.watermark('bf-dm', 'bo'),
        h.read.unread('bf-dm', 'bo'),
        h.read.badge('bo'),
      ]);
      return watermark === 1 && unread === 1 && badge.includes('ana');
    });
    expect(await h.read.unread('bf-group', 'cy')).toBe(0);
    const details = await new RedisReceiptDetails(h.redis, h.keys).lookup({
      conversationId: 'bf-dm',
      messageId: 'm2',
      viewer: 'ana',
    });
    expect(details).toEqual({
      status: 'found',
      message: { seq: 2, senderId: 'ana', sentAt: T + 2000 },
      recipients: [
        { userId: 'bo', read: false, readAt: null, delivered: true, deliveredAt: T + 5000 },
      ],
    });
    // Nothing the pipeline refused: the file's bad lines never reached it.
    expect(h.out.deadLetters).toEqual([]);
  });

  it('deletion, mark-unread and mute lines end to end: Kafka, registry, pipeline, query API', async () => {
    // A history first (applied before the actions, as an earlier import would have left it)…
    const history = [
      ...['ivy', 'fi', 'gus'].map((u) => ({
        type: 'member_added',
        conversation_id: 'bf-ua',
        user_id: u,
        kind: 'GROUP',
        at: at(20),
      })),
      ...['ivy', 'hal'].map((u) => ({
        type: 'member_added',
        conversation_id: 'bf-ua-dm',
        user_id: u,
        kind: 'DIRECT',
        at: at(20),
      })),
      ...[1, 2, 3].map((seq) => ({
        type: 'message_sent',
        conversation_id: 'bf-ua',
        message_id: `u${seq}`,
        seq,
        sender_id: 'ivy',
        kind: 'GROUP',
        at: at(20 + seq),
      })),
      {
        type: 'message_sent',
        conversation_id: 'bf-ua-dm',
        message_id: 'd1',
        seq: 1,
        sender_id: 'ivy',
        kind: 'DIRECT',
        at: at(24),
      },
      { type: 'read', conversation_id: 'bf-ua', user_id: 'fi', seq: 3, at: at(25) },
    ];
    // …then the three user actions, in the README's line format.
    const until = Date.now() + 3_600_000;
    const actions = [
      {
        type: 'message_deleted',
        conversation_id: 'bf-ua',
        message_id: 'u3',
        deleted_by: 'ivy',
        at: at(30),
      },
      {
        type: 'marked_unread',
        conversation_id: 'bf-ua',
        user_id: 'fi',
        device_id: 'phone',
        at: at(31),
      },
      {
        type: 'settings',
        user_id: 'gus',
        read_receipts_enabled: true,
        muted_conversations: [{ conversation_id: 'bf-ua' }],
        at: at(32),
      },
      {
        type: 'settings',
        user_id: 'hal',
        read_receipts_enabled: true,
        muted_conversations: [
          { conversation_id: 'bf-ua-dm', until: new Date(until).toISOString() },
        ],
        at: at(33),
      },
    ];
    const importFile = async (name: string, lines: object[]) => {
      const f = path.join(dir, name);
      writeFileSync(f, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
      const result = await runScript(h, 'backfill.ts', [f, '--rate', '100']);
      expect(result.stderr).not.toMatch(/^(error|line \d+)/m);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`published ${lines.length} events`);
    };

    await importFile('history-ua.jsonl', history);
    await eventually('the history applied', async () => {
      const [read, gus, hal] = await Promise.all([
        h.read.watermark('bf-ua', 'fi'),
        h.read.unread('bf-ua', 'gus'),
        h.read.unread('bf-ua-dm', 'hal'),
      ]);
      return read === 3 && gus === 3 && hal === 1;
    });
    await importFile('actions-ua.jsonl', actions);
    await caughtUp(h);

    const server = await startApiServer(h, { gateway: false });
    try {
      const call = apiClient(server.url);
      type Unread = {
        conversations: Array<Record<string, unknown> & { conversation_id: string }>;
        badge: { count: number; sources: string[] };
      };
      const unreadOf = async (user: string) =>
        (await call<Unread>('GET', '/v1/me/unread', { token: server.tokens.issue(user) })).body;
      const row = (u: Unread, c: string) => u.conversations.find((x) => x.conversation_id === c);

      // The deletion: u3 counts no more for gus, and its receipts answer 404.
      const gone = await eventually('u3 deleted', async () => {
        const r = await call('GET', '/v1/messages/bf-ua/u3/receipts', {
          token: server.tokens.issue('ivy'),
        });
        return r.status === 404 ? r : undefined;
      });
      expect(gone.body).toEqual({ error: 'not_found', message: expect.stringMatching(/deleted/) });
      const u2 = await call('GET', '/v1/messages/bf-ua/u2/receipts', {
        token: server.tokens.issue('ivy'),
      });
      expect(u2.status).toBe(200);

      // The mark: fi read everything, and sees 1 unread and the group in the badge.
      const fi = await eventually('fi marked', async () => {
        const u = await unreadOf('fi');
        return row(u, 'bf-ua')?.marked_unread === true ? u : undefined;
      });
      expect(row(fi, 'bf-ua')).toMatchObject({
        unread: 1,
        read_up_to_seq: 3,
        muted: false,
        muted_until: null,
      });
      expect(fi.badge).toEqual({ count: 1, sources: ['bf-ua'] });

      // The mutes: the counts stay (2 for gus, u3 being gone), the badges leave them out.
      const gus = await eventually('gus muted', async () => {
        const u = await unreadOf('gus');
        return row(u, 'bf-ua')?.muted === true ? u : undefined;
      });
      expect(row(gus, 'bf-ua')).toMatchObject({
        unread: 2,
        marked_unread: false,
        muted_until: null,
      });
      expect(gus.badge).toEqual({ count: 0, sources: [] });
      expect(await h.read.badge('gus')).toEqual(['bf-ua']); // kept: only the answer leaves it out
      const hal = await eventually('hal muted', async () => {
        const u = await unreadOf('hal');
        return row(u, 'bf-ua-dm')?.muted === true ? u : undefined;
      });
      expect(row(hal, 'bf-ua-dm')).toMatchObject({ unread: 1, muted_until: until });
      expect(hal.badge).toEqual({ count: 0, sources: [] });
    } finally {
      await server.stop();
    }
    // Nothing refused: each line was an event the pipeline applied.
    expect(h.out.deadLetters).toEqual([]);
  }, 120_000);
});
