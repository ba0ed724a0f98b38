import {
  indexEntry,
  indexEntryForms,
  logEntry,
  logMoveOf,
  markSeq,
  MAX_PACKED_LOG_AT,
  parseIndexEntry,
  parseMark,
  toldFieldKind,
  toldFieldOf,
} from './stored-values';

/** The time of a log entry's move, from either form, as the loader reads it (logMoveOf). */
const logMoveTime = (member: string): number | null =>
  logMoveOf(member, member.startsWith('-') ? -1 : 1)?.at ?? null;

describe('member log entries', () => {
  it('pack the time and the seq’s last three digits into one integer, deliveries below zero', () => {
    expect(logEntry('read', 7, '1796457492184')).toEqual({
      score: '7',
      member: '1796457492184007',
    });
    expect(logEntry('delivered', 1234, '1796457492184')).toEqual({
      score: '-1234',
      member: '-1796457492184235',
    });
    // The kinds never share a member, time 0 included.
    expect(logEntry('read', 1000, '0').member).toBe('0');
    expect(logEntry('delivered', 1000, '0').member).toBe('-1');
  });

  it('keep the older string where the time does not pack exactly', () => {
    expect(logEntry('read', 3, String(MAX_PACKED_LOG_AT))).toEqual({
      score: '3',
      member: `${MAX_PACKED_LOG_AT}003`,
    });
    expect(Number(`${MAX_PACKED_LOG_AT}999`)).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
    const far = String(MAX_PACKED_LOG_AT + 1);
    expect(logEntry('read', 3, far)).toEqual({ score: '3', member: `3|${far}` });
    expect(logEntry('delivered', 3, far)).toEqual({ score: '-3', member: `-3|${far}` });
  });

  it('give back the time of either form', () => {
    for (const [which, seq, at] of [
      ['read', 1, '0'],
      ['delivered', 1000, '0'],
      ['read', 999, '1796457492184'],
      ['delivered', 5, '1796457492184'],
      ['read', 2, String(MAX_PACKED_LOG_AT)],
      ['delivered', 2, String(MAX_PACKED_LOG_AT + 1)],
    ] as const)
      expect(logMoveTime(logEntry(which, seq, at).member)).toBe(Number(at));
    expect(logMoveTime('-6|1796457492184')).toBe(1796457492184);
    expect(logMoveTime('not a move')).toBeNull();
  });
});

describe('message index entries', () => {
  it('write sent_at in base 36 after the sender, and read it back with the id and sender', () => {
    expect(indexEntry('m1', 'ana', '1796457473636')).toBe(
      `2:m1|ana#${(1796457473636).toString(36)}`,
    );
    for (const [id, sender, sentAt] of [
      ['m1', 'ana', '1796457473636'],
      ['id|with#marks', 'se|nd#er', '0'],
      ['ünï', 'bo', String(Number.MAX_SAFE_INTEGER)],
    ] as const)
      expect(parseIndexEntry(indexEntry(id, sender, sentAt))).toEqual({
        messageId: id,
        sender,
        sentAt,
      });
  });

  it('read the decimal form of older builds, and keep it where sent_at is not a safe integer’s digits', () => {
    expect(parseIndexEntry('2:m1|ana|1000')).toEqual({
      messageId: 'm1',
      sender: 'ana',
      sentAt: '1000',
    });
    expect(parseIndexEntry('2:m1|a#b|1000')).toMatchObject({ sender: 'a#b', sentAt: '1000' });
    expect(indexEntry('m1', 'ana', '0100')).toBe('2:m1|ana|0100');
    expect(indexEntry('m1', 'ana', '9007199254740993')).toBe('2:m1|ana|9007199254740993');
    expect(parseIndexEntry('2:m1|ana')).toBeNull();
  });

  it('name both forms of an entry for removals', () => {
    expect(indexEntryForms('m1', 'ana', '1001')).toEqual(['2:m1|ana#rt', '2:m1|ana|1001']);
    expect(indexEntryForms('m1', 'ana', '0100')).toEqual(['2:m1|ana|0100']);
  });
});

describe('told marks', () => {
  it('give the seq parseMark gives, in either form, without parsing the rest', () => {
    for (const value of [undefined, '', '7', '123', '12|3|m-1', '5|9|a|b', 'x', '1|x', ' 4 '])
      expect([value, markSeq(value)]).toEqual([value, parseMark(value).seq]);
  });

  it('name the kind toldFieldOf names', () => {
    for (const field of ['r:u1', 'd:u1', 's:u1', 'gr:m-1', 'gd:m-1', 'g:x'])
      expect(toldFieldKind(field)).toBe(toldFieldOf(field).kind);
    expect(toldFieldOf('gd:m-1')).toEqual({ kind: 'count', of: 'm-1' });
    expect(toldFieldOf('s:u1')).toEqual({ kind: 'sync', of: 'u1' });
  });
});
