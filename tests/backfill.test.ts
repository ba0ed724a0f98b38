import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RedisReceiptDetails } from '../stores/redis/receipt-details';
import { caughtUp, createHarness, eventually, type Harness } from './support/harness';
import { runScript } from './support/run-script';

/** Issue 4: `npm run backfill` imports a JSON-lines file; bad lines are reported, never dropped. */
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
});
