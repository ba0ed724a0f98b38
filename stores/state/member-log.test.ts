import { SeededRandom } from '../../scripts/traffic/random';
import {
  decodeChunk,
  encodeMove,
  LOG_CHUNK_CHARS,
  logField,
  MemberLog,
  parseLogField,
  type LogMove,
} from './member-log';

const read = (seq: number, at: number): LogMove => ({ which: 'read', seq, at });
const delivered = (seq: number, at: number): LogMove => ({ which: 'delivered', seq, at });

/** Applies a log's writes to a hash held as a Map, as Redis would. */
function applyTo(hash: Map<string, string>, writes: ReturnType<MemberLog['append']>): void {
  for (const [field, value] of writes.set) hash.set(field, value);
  for (const field of writes.deleted) hash.delete(field);
}

/** The log a hash holds for `user`, as the loader builds it. */
function reload(hash: Map<string, string>, user: string): MemberLog {
  const chunks = [...hash].flatMap(([field, value]) => {
    const f = parseLogField(field);
    return f && f.userId === user ? [{ kept: f.kept, value }] : [];
  });
  return MemberLog.fromFields(user, chunks);
}

describe('member log chunks', () => {
  it('packs a move in a few characters, counted from the move before', () => {
    const first = encodeMove(null, read(5, 1_796_466_443_195));
    expect(first).toMatch(/^05/); // a read (flags 0), seq 5…
    expect(first).toHaveLength(11); // …and a time of 41 bits: nine digits
    expect(decodeChunk(first)).toEqual([read(5, 1_796_466_443_195)]);
    const next = encodeMove(read(5, 1_796_466_443_195), delivered(9, 1_796_466_443_195 + 60_000));
    expect(next.length).toBeLessThanOrEqual(6);
    expect(decodeChunk(first + next)).toEqual([
      read(5, 1_796_466_443_195),
      delivered(9, 1_796_466_503_195),
    ]);
  });

  it('keeps seqs and times exactly up to 2^53 - 1, going down as well as up', () => {
    const max = Number.MAX_SAFE_INTEGER;
    const moves = [read(max, max), delivered(1, 0), read(max - 1, 7), delivered(max, max - 3)];
    let chunk = '';
    moves.forEach((m, i) => (chunk += encodeMove(moves[i - 1] ?? null, m)));
    expect(decodeChunk(chunk)).toEqual(moves);
  });

  it('refuses a string that is not a chunk', () => {
    expect(() => decodeChunk('8')).toThrow(/not a member log chunk/); // no flag digit 8
    expect(() => decodeChunk('05')).toThrow(/not a member log chunk/); // the time is missing
    expect(() => decodeChunk('0|')).toThrow(/not a member log chunk/);
  });

  it('names the newest chunk l:<user> and kept ones l<n>:<user>, whatever the user id holds', () => {
    expect(logField('ana')).toBe('l:ana');
    expect(logField('ana', 2)).toBe('l2:ana');
    expect(parseLogField('l:a:b')).toEqual({ userId: 'a:b', kept: null });
    expect(parseLogField('l12:x:1')).toEqual({ userId: 'x:1', kept: 12 });
    expect(parseLogField('m:ana')).toBeNull();
    expect(parseLogField('last_seq')).toBeNull();
  });

  it('writes one short field per move, keeping a full chunk under its number, and reloads the same', () => {
    const random = new SeededRandom(7);
    const hash = new Map<string, string>();
    const log = new MemberLog('ana');
    const logged: LogMove[] = [];
    let at = 1_796_000_000_000;
    let seq = 0;
    for (let i = 0; i < 200; i++) {
      seq += 1 + random.int(0, 5);
      at += random.int(0, 600_000);
      const move = random.int(0, 1) ? read(seq, at) : delivered(seq, at);
      const writes = log.append(move);
      expect(writes.set.length).toBeGreaterThanOrEqual(1);
      expect(writes.set.length).toBeLessThanOrEqual(2);
      applyTo(hash, writes);
      logged.push(move);
    }
    for (const value of hash.values()) expect(value.length).toBeLessThanOrEqual(LOG_CHUNK_CHARS);
    expect(hash.size).toBeGreaterThan(5);
    expect(log.moves()).toEqual(logged);
    expect(reload(hash, 'ana').moves()).toEqual(logged);
  });

  it('does not log a move again that its kind already reached (a step redone)', () => {
    const log = new MemberLog('ana');
    expect(log.append(read(3, 100)).set).toHaveLength(1);
    expect(log.append(read(3, 100))).toEqual({ set: [], deleted: [] });
    expect(log.append(read(2, 90))).toEqual({ set: [], deleted: [] });
    expect(log.append(delivered(3, 100)).set).toHaveLength(1); // the other kind: logged
    const reloaded = reload(new Map(log.fields()), 'ana');
    expect(reloaded.append(delivered(3, 100))).toEqual({ set: [], deleted: [] });
    expect(reloaded.append(read(4, 120)).set).toHaveLength(1);
  });

  it('forgets the moves below a seq, repacking what is left and deleting fields it no longer needs', () => {
    const hash = new Map<string, string>();
    const log = new MemberLog('bo');
    for (let seq = 1; seq <= 60; seq++)
      applyTo(hash, log.append(read(seq, 1_000_000 + seq * 100_000)));
    const fieldsBefore = hash.size;
    expect(fieldsBefore).toBeGreaterThan(3);
    applyTo(hash, log.dropBelow(51));
    expect(log.moves().map((m) => m.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 51 + i));
    expect(reload(hash, 'bo').moves()).toEqual(log.moves());
    expect(hash.size).toBeLessThan(fieldsBefore);
    expect(log.dropBelow(51)).toEqual({ set: [], deleted: [] }); // nothing below: no write
    applyTo(hash, log.dropBelow(1000));
    expect(hash.size).toBe(0);
    // Still knows how far it logged: a redo below stays out.
    expect(log.append(read(60, 5))).toEqual({ set: [], deleted: [] });
  });
});
