import { evictionOrder, type Used } from './second-chance';

/** A badge dedupe mark: '1' the main badge has the source, '0' it does not. */
export type DedupeMark = '1' | '0';

/** The marks one step may read and remember, for one partition (see DedupeMarkCache.of). */
export interface MarkMemory {
  get(key: string): DedupeMark | undefined;
  /** Records what the main Redis now holds (call only after main acknowledged the write). */
  remember(key: string, mark: DedupeMark): void;
  /** Drops a mark about to become false (before the main write that changes it). */
  forget(key: string): void;
  /**
   * Whether the partition's aux marks may lie after an aux outage (see UserStore), as last read
   * or set; undefined when not known (read main again).
   */
  untrusted(): boolean | undefined;
  setUntrusted(value: boolean): void;
}

interface CachedMark extends Used {
  mark: DedupeMark;
  partition: number;
  expiresAt: number;
}

/**
 * The auxiliary Redis' dedupe marks that this process wrote or read, kept in memory in front of
 * it (the aux Redis stays their durable home). A (source, recipient) pair belongs to one
 * conversation, so to one partition: only that partition's owner changes the badge entry the
 * mark describes, and while it owns the partition its memory is the truth. A reset of the
 * partition (lost, rewound, lease lost) forgets its marks; what a step of the partition started
 * before the reset cannot remember anything after it (epochs), since another owner may have
 * changed the badge since. Entries expire with the aux marks' TTL and are bounded in number
 * (about least recently used first: second-chance.ts).
 */
export class DedupeMarkCache {
  readonly name = 'dedupe-marks';
  private readonly marks = new Map<string, CachedMark>();
  private readonly epochs = new Map<number, number>();
  /** Per partition: whether its aux marks may lie (UserStore reads it from main when unknown). */
  private readonly untrusted = new Map<number, boolean>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.marks.size;
  }

  /** The marks of `partition` as a step that starts now sees them. */
  of(partition: number): MarkMemory {
    const epoch = this.epochs.get(partition) ?? 0;
    const current = () => (this.epochs.get(partition) ?? 0) === epoch;
    return {
      get: (key) => (current() ? this.get(key) : undefined),
      remember: (key, mark) => {
        if (current()) this.set(key, partition, mark);
      },
      forget: (key) => {
        this.marks.delete(key);
      },
      untrusted: () => (current() ? this.untrusted.get(partition) : undefined),
      setUntrusted: (value) => {
        if (current()) this.untrusted.set(partition, value);
      },
    };
  }

  resetPartition(partition: number): void {
    this.epochs.set(partition, (this.epochs.get(partition) ?? 0) + 1);
    this.untrusted.delete(partition);
    for (const [key, cached] of this.marks)
      if (cached.partition === partition) this.marks.delete(key);
  }

  private get(key: string): DedupeMark | undefined {
    const cached = this.marks.get(key);
    if (!cached) return undefined;
    if (cached.expiresAt <= this.now()) {
      this.marks.delete(key);
      return undefined;
    }
    cached.used = true; // a second chance when eviction comes to it
    return cached.mark;
  }

  private set(key: string, partition: number, mark: DedupeMark): void {
    this.marks.delete(key);
    this.marks.set(key, { mark, partition, expiresAt: this.now() + this.ttlMs, used: false });
    if (this.marks.size > this.maxEntries)
      for (const [oldest] of evictionOrder(this.marks)) {
        this.marks.delete(oldest);
        break;
      }
  }
}
