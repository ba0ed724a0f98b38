import { randomBytes } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import { TypeName, type ReceiptEvent } from '../../schemas/types';
import type { Harness } from '../support/harness';
import type { ApiAnswer } from '../support/api-client';
import { SeededRandom } from '../../scripts/traffic/random';
import type { ReferenceModel } from './reference-model';
import { note, type Verdict } from './judge';

/** The kinds of hostile record, each with what the pipeline must do with it. */
export const HOSTILE_KINDS = [
  'garbage', // not the wire format: UNDECODABLE
  'unknown-schema', // a schema id the registry never gave: UNKNOWN_SCHEMA
  'truncated', // valid Avro cut short: UNDECODABLE
  'huge-array', // a delivery of more ids than TICKS_MAX_DELIVERED_BATCH: OVERSIZED_BATCH
  'huge-block', // an array block claiming 2^40 items with none there: UNDECODABLE
  'negative-seq', // a read or a message with seq < 1: INVALID_FIELDS
  'wrong-key', // a read of a real conversation under another key: INVALID_FIELDS
  'fuzzed', // valid Avro with random bytes flipped: dead letter, or a valid event of its own chat
  'outsider', // a well-formed read by a non-member of a real conversation: marks nothing
] as const;
export type HostileKind = (typeof HOSTILE_KINDS)[number];

/** Records that must be dead-lettered (hex of the bytes), and those that may be. */
export interface HostileLoad {
  expected: Set<string>;
  tolerated: Set<string>;
  byKind: Record<HostileKind, number>;
}

/**
 * `count` hostile records on the input topics, spread over `seconds` (mixed into the scenario's
 * load). Those about a real conversation (wrong key, outsider, negative seq) would change what
 * the model judges if the pipeline took them: it must not.
 */
export async function publishHostileRecords(
  h: Harness,
  model: ReferenceModel,
  count: number,
  seed: number,
  maxDeliveredBatch: number,
): Promise<HostileLoad> {
  const random = new SeededRandom(seed);
  const load: HostileLoad = {
    expected: new Set(),
    tolerated: new Set(),
    byKind: Object.fromEntries(HOSTILE_KINDS.map((k) => [k, 0])) as Record<HostileKind, number>,
  };
  const real = model.conversationIds().filter((c) => model.conversation(c).lastSeq > 0);
  const receipt = (c: string, user: string, payload: ReceiptEvent['payload']): ReceiptEvent => ({
    event_id: randomBytes(8).toString('hex'),
    conversation_id: c,
    user_id: user,
    device_id: 'hostile',
    occurred_at: Date.now(),
    payload,
  });
  const encode = (value: ReceiptEvent) => h.codec.encode('receiptEvents', value);
  for (let i = 0; i < count; i++) {
    const kind = HOSTILE_KINDS[i % HOSTILE_KINDS.length]!;
    load.byKind[kind]++;
    const own = `hostile-${i % 50}`; // chats of its own: a fuzzed record that decodes lands there
    const target = real.length > 0 ? random.pick(real) : own;
    const member = model.conversation(target)?.members[0] ?? 'nobody';
    let key = own;
    let bytes: Buffer;
    let certain = true;
    const tag = Buffer.alloc(4);
    tag.writeUInt32BE(i);
    switch (kind) {
      case 'garbage':
        bytes = Buffer.concat([
          Buffer.from([0x80 | random.int(1, 0x7f)]),
          tag,
          randomBytes(random.int(0, 60)),
        ]);
        break;
      case 'unknown-schema': {
        bytes = Buffer.concat([
          Buffer.from([0]),
          Buffer.alloc(4),
          tag,
          randomBytes(random.int(0, 30)),
        ]);
        bytes.writeUInt32BE(0x7f000000 + random.int(0, 0xffffff), 1);
        break;
      }
      case 'truncated': {
        const whole = await encode(
          receipt(own, 'x', { [TypeName.ReadUpTo]: { seq: 1, message_id: null } }),
        );
        bytes = whole.subarray(0, random.int(6, whole.length - 1));
        break;
      }
      case 'huge-array':
        bytes = await encode(
          receipt(own, 'x', {
            [TypeName.Delivered]: {
              up_to_seq: null,
              message_ids: Array.from(
                { length: maxDeliveredBatch + random.int(1, 50) },
                (_, k) => `${i}-${k}`,
              ),
            },
          }),
        );
        break;
      case 'huge-block': {
        // The ids array of a delivery by ids, its block count replaced by 2^40 (zigzag varint).
        const valid = await encode(
          receipt(own, 'x', { [TypeName.Delivered]: { up_to_seq: null, message_ids: [`z${i}`] } }),
        );
        const marker = valid.lastIndexOf(Buffer.from([0x02, 0x02 * `z${i}`.length]));
        if (marker < 0) throw new Error('huge-block: the ids array header was not found');
        bytes = Buffer.concat([
          valid.subarray(0, marker),
          Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x40]),
          valid.subarray(marker + 1),
        ]);
        break;
      }
      case 'negative-seq':
        key = target;
        bytes = await encode(
          receipt(target, member, {
            [TypeName.ReadUpTo]: { seq: -random.int(1, 1e6), message_id: null },
          }),
        );
        break;
      case 'wrong-key':
        key = `${target}-not`;
        bytes = await encode(
          receipt(target, member, {
            [TypeName.ReadUpTo]: { seq: model.conversation(target).lastSeq, message_id: null },
          }),
        );
        break;
      case 'fuzzed': {
        const valid = await encode(
          receipt(own, `f${i}`, { [TypeName.ReadUpTo]: { seq: 1, message_id: null } }),
        );
        bytes = Buffer.from(valid);
        for (let flips = random.int(1, 4); flips > 0; flips--)
          bytes[random.int(5, bytes.length - 1)] = random.int(0, 255);
        certain = false;
        break;
      }
      case 'outsider':
        key = target;
        bytes = await encode(
          receipt(target, `outsider-${i}`, {
            [TypeName.ReadUpTo]: { seq: model.conversation(target).lastSeq, message_id: null },
          }),
        );
        certain = false; // held, then dropped or dead-lettered: either way nothing is marked
        break;
    }
    (certain ? load.expected : load.tolerated).add(bytes.toString('hex'));
    h.publish.raw('receiptEvents', key, bytes);
    if (i % 500 === 499) await h.publish.flush();
  }
  await h.publish.flush();
  return load;
}

type Call = <T = Record<string, unknown>>(
  method: string,
  path: string,
  options?: { token?: string; body?: unknown; headers?: Record<string, string> },
) => Promise<ApiAnswer<T>>;

/** What hostile API traffic was sent, and how many answers were not the refusal due. */
export interface HostileApiResult {
  sent: number;
  wrongAnswers: number;
}

/**
 * Hostile API traffic: receipts from non-members (403), another user's id in the body (403), no,
 * garbage, forged (another secret) and foreign-issuer tokens (401), and a flood of one user past
 * the per-user rate limit (429 with Retry-After). Each answer other than the refusal due is noted.
 */
export async function hostileApiTraffic(
  v: Verdict,
  model: ReferenceModel,
  call: Call,
  token: (user: string) => string,
  rounds: number,
  ratePerMinute: number,
): Promise<HostileApiResult> {
  const result: HostileApiResult = { sent: 0, wrongAnswers: 0 };
  const expect = (what: string, answer: ApiAnswer, status: number) => {
    result.sent++;
    if (answer.status === status) return;
    result.wrongAnswers++;
    note(v, 'otherMismatches', `API hostile ${what}: ${answer.status}, expected ${status}`);
  };
  const conversations = model.conversationIds().filter((c) => model.conversation(c).lastSeq > 0);
  const forged = createSigner({ key: 'not-the-secret', algorithm: 'HS256', iss: 'ticks' });
  const foreign = createSigner({ key: 'not-the-secret', algorithm: 'HS256', iss: 'someone-else' });
  for (let i = 0; i < rounds; i++) {
    const c = conversations[i % conversations.length]!;
    const { lastSeq, members } = model.conversation(c);
    const read = { conversation_id: c, seq: lastSeq };
    expect(
      'non-member read',
      await call('POST', '/v1/receipts/read', { token: token(`intruder-${i % 7}`), body: read }),
      403,
    );
    expect(
      'non-member delivered',
      await call('POST', '/v1/receipts/delivered', {
        token: token(`intruder-${i % 7}`),
        body: { conversation_id: c, message_ids: ['x'] },
      }),
      403,
    );
    expect(
      'non-member receipt details',
      await call('GET', `/v1/messages/${c}/${c}:1/receipts`, { token: token(`intruder-${i % 7}`) }),
      403,
    );
    expect(
      "another user's id",
      await call('POST', '/v1/receipts/read', {
        token: token(`intruder-${i % 7}`),
        body: { ...read, user_id: members[0] },
      }),
      403,
    );
    expect('no token', await call('POST', '/v1/receipts/read', { body: read }), 401);
    expect(
      'garbage token',
      await call('GET', '/v1/me/unread', { token: randomBytes(24).toString('base64url') }),
      401,
    );
    expect(
      'forged token',
      await call('POST', '/v1/receipts/read', {
        token: forged({ sub: members[0], exp: Math.floor(Date.now() / 1000) + 60 }),
        body: read,
      }),
      401,
    );
    expect(
      'foreign issuer',
      await call('GET', '/v1/me/unread', {
        token: foreign({ sub: members[0], exp: Math.floor(Date.now() / 1000) + 60 }),
      }),
      401,
    );
  }
  // A flood from one user: past the limit every request is refused with a Retry-After.
  const flooder = token('flooder');
  let limited = 0;
  for (let i = 0; i < ratePerMinute + 50; i++) {
    const answer = await call('GET', '/v1/me/unread?limit=1', { token: flooder });
    result.sent++;
    if (answer.status === 429 && answer.headers['retry-after']) limited++;
    else if (answer.status !== 200) {
      result.wrongAnswers++;
      note(v, 'otherMismatches', `API flood: answered ${answer.status}`);
    }
  }
  if (limited < 50) {
    result.wrongAnswers++;
    note(
      v,
      'otherMismatches',
      `API flood: ${limited} of the last 50 requests past the limit refused with 429`,
    );
  }
  return result;
}
