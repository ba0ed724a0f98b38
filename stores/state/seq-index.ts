/**
 * Redis' order of sorted-set members with equal scores: byte order of their UTF-8 encodings.
 * JavaScript compares UTF-16 code units, which agrees except between surrogate pairs and the
 * code units U+E000..U+FFFF; shifting those two ranges past each other restores code point
 * order, which is UTF-8 byte order.
 */
export function compareMembers(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/**
 * The `msgs` sorted set (message id scored by seq) in memory, in Redis' order: by seq, then by
 * id. Kept as two parallel sorted arrays so that the two questions the rules ask are binary
 * searches: "how many messages after seq w" (unread counts) and "the newest messages at or
 * below x and above y" (who to tell, what a window summarises). Messages almost always arrive in
 * seq order, so an insert is usually an append.
 */
export class SeqIndex {
  private readonly seqs: number[] = [];
  private readonly ids: string[] = [];
  private readonly scores = new Map<string, number>();

  get size(): number {
    return this.ids.length;
  }

  score(id: string): number | undefined {
    return this.scores.get(id);
  }

  /** ZADD: adds the id, or moves it to its new seq. Returns false when nothing changed. */
  set(id: string, seq: number): boolean {
    const old = this.scores.get(id);
    if (old === seq) return false;
    if (old !== undefined) {
      const at = this.lowerBound(old, id);
      this.seqs.splice(at, 1);
      this.ids.splice(at, 1);
    }
    this.scores.set(id, seq);
    const last = this.ids.length - 1;
    if (last < 0 || this.compare(last, seq, id) < 0) {
      this.seqs.push(seq);
      this.ids.push(id);
    } else {
      const at = this.lowerBound(seq, id);
      this.seqs.splice(at, 0, seq);
      this.ids.splice(at, 0, id);
    }
    return true;
  }

  /** ZREM: false when the id was not indexed. */
  remove(id: string): boolean {
    const seq = this.scores.get(id);
    if (seq === undefined) return false;
    const at = this.lowerBound(seq, id);
    this.seqs.splice(at, 1);
    this.ids.splice(at, 1);
    this.scores.delete(id);
    return true;
  }

  /** Removes the `count` oldest entries (lowest seqs); returns them, oldest first. */
  removeOldest(count: number): Array<[id: string, seq: number]> {
    const ids = this.ids.splice(0, count);
    const seqs = this.seqs.splice(0, count);
    for (const id of ids) this.scores.delete(id);
    return ids.map((id, i) => [id, seqs[i]!]);
  }

  /** The lowest seq indexed (undefined when empty). */
  get lowestSeq(): number | undefined {
    return this.seqs[0];
  }

  /** ZCOUNT msgs (seq +inf */
  countAbove(seq: number): number {
    return this.ids.length - this.upperBound(seq);
  }

  /** ZREVRANGEBYSCORE msgs upTo (above LIMIT 0 limit: ids, newest first. */
  newest(upTo: number, above: number, limit: number): string[] {
    const out: string[] = [];
    for (let i = this.upperBound(upTo) - 1; i >= 0 && out.length < limit; i--) {
      if (this.seqs[i]! <= above) break;
      out.push(this.ids[i]!);
    }
    return out;
  }

  /** Every entry in order (id, seq): for tests and for writing the set out again. */
  *entries(): IterableIterator<[string, number]> {
    for (let i = 0; i < this.ids.length; i++) yield [this.ids[i]!, this.seqs[i]!];
  }

  private compare(i: number, seq: number, id: string): number {
    const s = this.seqs[i]!;
    return s !== seq ? s - seq : compareMembers(this.ids[i]!, id);
  }

  /** First position whose entry is not below (seq, id). */
  private lowerBound(seq: number, id: string): number {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(mid, seq, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First position whose seq is above `seq`. */
  private upperBound(seq: number): number {
    let lo = 0;
    let hi = this.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid]! <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
