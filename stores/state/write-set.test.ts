import { ConversationWrites } from './conversation-writes';
import { MAX_PAIRS_PER_COMMAND, WriteSet } from './write-set';

const plain = { atomic: false };
/** meta's 'rev': a token unique to the write (conversation-writes.ts newRevision). */
const REVISION = expect.stringMatching(/^[\w-]+\.[0-9a-z]+$/) as unknown as string;

describe('WriteSet', () => {
  it('coalesces per key: last value per field or member, one EXPIRE', () => {
    const w = new WriteSet();
    w.hash('h').set('a', '1');
    w.hash('h').set('b', '2');
    w.hash('h').set('a', '3');
    w.hash('h').expire(60);
    w.hash('h').expire(60);
    w.sortedSet('z').add('5', 'x');
    w.sortedSet('z').add('6', 'x');
    expect(w.commands(plain)).toEqual([
      ['hset', 'h', 'a', '3', 'b', '2'],
      ['expire', 'h', '60'],
      ['zadd', 'z', '6', 'x'],
    ]);
  });

  it('sends a set its additions before its removals: a set that stays non-empty is never emptied', () => {
    const w = new WriteSet();
    w.set('s').remove('old');
    w.set('s').add('new');
    w.set('s').add('gone');
    w.set('s').remove('gone');
    expect(w.commands(plain)).toEqual([
      ['sadd', 's', 'new'],
      ['srem', 's', 'old', 'gone'],
    ]);
  });

  it('a sorted set too: additions before removals, the last operation on a member wins', () => {
    const w = new WriteSet();
    w.sortedSet('z').remove('old');
    w.sortedSet('z').add('1', 'held');
    w.sortedSet('z').add('2', 'back');
    w.sortedSet('z').remove('back');
    w.sortedSet('z').remove('again');
    w.sortedSet('z').add('3', 'again');
    expect(w.commands(plain)).toEqual([
      ['zadd', 'z', '1', 'held', '3', 'again'],
      ['zrem', 'z', 'old', 'back'],
    ]);
  });

  it('a DEL drops the writes and the expiry before it, and starts the key afresh', () => {
    const w = new WriteSet();
    w.hash('win').set('ver', '1');
    w.hash('win').expire(60);
    w.hash('win').del();
    expect(w.commands(plain)).toEqual([['del', 'win']]);
    w.hash('win').set('ver', '2');
    w.hash('win').expire(30);
    expect(w.commands(plain)).toEqual([
      ['del', 'win'],
      ['hset', 'win', 'ver', '2'],
      ['expire', 'win', '30'],
    ]);
    const s = new WriteSet();
    s.set('m').remove('a');
    s.set('m').del();
    s.set('m').add('b');
    expect(s.commands(plain)).toEqual([
      ['del', 'm'],
      ['sadd', 'm', 'b'],
    ]);
  });

  it('slices variadic commands at MAX_PAIRS_PER_COMMAND pairs or members', () => {
    const w = new WriteSet();
    const n = MAX_PAIRS_PER_COMMAND * 2 + 1;
    for (let i = 0; i < n; i++) {
      w.hash('h').set(`f${i}`, 'v');
      w.set('s').add(`m${i}`);
    }
    const sizes = w.commands(plain).map((c) => [c[0], c.length - 2]);
    expect(sizes).toEqual([
      ['hset', 2 * MAX_PAIRS_PER_COMMAND],
      ['hset', 2 * MAX_PAIRS_PER_COMMAND],
      ['hset', 2],
      ['sadd', MAX_PAIRS_PER_COMMAND],
      ['sadd', MAX_PAIRS_PER_COMMAND],
      ['sadd', 1],
    ]);
  });

  it('orders by rank, then by first write: a conversation writes its watermarks last', () => {
    const w = new WriteSet();
    const c = new ConversationWrites(w, 'p:{c:1}:');
    c.deliveredBy.set('2:m3:ana', '9');
    c.read.set('ana', '3');
    c.meta.set('last_seq', '3');
    c.indexMessage('m3', 3, 'bo', '1', undefined);
    c.dlvd.set('ana', '3');
    c.memberLog('ana').add('3', '3|9');
    expect(w.commands(plain)).toEqual([
      ['zadd', 'p:{c:1}:ix', '3', '2:m3|bo#1'],
      ['zadd', 'p:{c:1}:log:ana', '3', '3|9'],
      // The watermarks are meta fields: one HSET with last_seq (and the content's new revision).
      ['hset', 'p:{c:1}:meta', 'rev', REVISION, 'r:ana', '3', 'last_seq', '3', 'd:ana', '3'],
      ['hset', 'p:{c:1}:dlv', '2:m3:ana', '9'],
    ]);
  });

  it("wraps each slot's writes in MULTI/EXEC by default: a conversation's step lands whole", () => {
    const w = new WriteSet();
    const one = new ConversationWrites(w, 'p:{c:1}:');
    const two = new ConversationWrites(w, 'p:{c:2}:');
    one.read.set('ana', '3');
    two.indexMessage('m1', 1, 'bo', '1', undefined);
    one.indexMessage('m3', 3, 'bo', '1', undefined);
    w.hash('p:{u:ana}:x').set('a', '1'); // a single command needs no transaction
    expect(w.commands()).toEqual([
      ['multi'],
      ['zadd', 'p:{c:1}:ix', '3', '2:m3|bo#1'],
      ['hset', 'p:{c:1}:meta', 'rev', REVISION, 'r:ana', '3'],
      ['exec'],
      ['multi'],
      ['zadd', 'p:{c:2}:ix', '1', '2:m1|bo#1'],
      ['hset', 'p:{c:2}:meta', 'rev', REVISION],
      ['exec'],
      ['hset', 'p:{u:ana}:x', 'a', '1'],
    ]);
  });

  it("gives meta a new 'rev' with every content write, once per writer, never for the window alone", () => {
    const revisionOf = (w: WriteSet) => {
      const meta = w
        .commands(plain)
        .find(([name, key]) => name === 'hset' && key === 'p:{c:1}:meta');
      const at = meta?.indexOf('rev') ?? -1;
      return at > 0 ? meta![at + 1] : undefined;
    };
    const writers: Array<(c: ConversationWrites) => void> = [
      (c) => c.read.set('ana', '3'),
      (c) => c.members.add('bo'),
      (c) => c.notified.set('r:ana', '3'),
      (c) => c.indexMessage('m1', 1, 'bo', '1', undefined),
      (c) => c.unindexMessage('m1', { seq: 1, sender: 'bo', sentAt: '1' }),
      (c) => c.deleted.set('m1', '1'),
      (c) => c.marked.set('ana', '9'),
      (c) => c.deliveredBy.set('1:ana', '9'),
      (c) => c.memberLog('ana').add('1', '1|9'),
      (c) => c.memberLog('ana').add('-1', '-1|9'),
    ];
    const seen = new Set<string>();
    for (const write of writers) {
      const w = new WriteSet();
      const c = new ConversationWrites(w, 'p:{c:1}:');
      write(c);
      write(c);
      const revision = revisionOf(w);
      expect(revision).toEqual(expect.any(String));
      seen.add(revision!);
      // Once per writer: one HSET field, whatever it wrote.
      expect(
        w
          .commands(plain)
          .flat()
          .filter((a) => a === 'rev'),
      ).toHaveLength(1);
    }
    expect(seen.size).toBe(writers.length); // never the same twice

    // Several engine calls writing one conversation in a step: one revision, made once.
    const step = new WriteSet();
    writers[0]!(new ConversationWrites(step, 'p:{c:1}:'));
    const once = revisionOf(step);
    for (const write of writers.slice(1)) write(new ConversationWrites(step, 'p:{c:1}:'));
    expect(revisionOf(step)).toBe(once);

    const windowOnly = new WriteSet();
    new ConversationWrites(windowOnly, 'p:{c:1}:').win.set('ana', '1');
    expect(windowOnly.commands(plain)).toEqual([['hset', 'p:{c:1}:win', 'ana', '1']]);
  });

  it('refuses to write one key as two types', () => {
    const w = new WriteSet();
    w.hash('k').set('a', '1');
    expect(() => w.set('k')).toThrow(TypeError);
  });
});
