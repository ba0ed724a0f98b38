/**
 * Answers a read source keeps between requests (to answer 'same' cheaply), by key, bounded by
 * their total weight (recipients, rows): the least recently used leave first; one heavier than
 * the bound is not kept.
 */
export class HeldAnswers<K, V> {
  private readonly entries = new Map<K, V>();
  private weight = 0;

  constructor(
    private readonly maxWeight: number,
    private readonly weightOf: (value: V) => number,
  ) {}

  /** The answer held for `key`, now the most recently used. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  /** Holds `value` for `key` (replacing what was held), then drops the oldest over the bound. */
  set(key: K, value: V): void {
    this.delete(key);
    if (this.weightOf(value) > this.maxWeight) return;
    this.entries.set(key, value);
    this.weight += this.weightOf(value);
    for (const [oldest] of this.entries) {
      if (this.weight <= this.maxWeight) break;
      this.delete(oldest);
    }
  }

  delete(key: K): void {
    const value = this.entries.get(key);
    if (value === undefined) return;
    this.entries.delete(key);
    this.weight -= this.weightOf(value);
  }
}
