/** A Map entry that remembers being used since eviction last passed it. */
export interface Used {
  used: boolean;
}

/**
 * The entries of a Map kept in insertion order, in the order an approximate least-recently-used
 * cache evicts them (second chance, or CLOCK): a read sets `used` instead of moving its entry to
 * the end — a Map delete and insert on every read of tens of thousands of entries cost ~2 % of
 * a real-time step (CPU profile, 2026-12-04) — and eviction, walking from the oldest insert,
 * moves an entry used since its last pass to the end once, clearing the bit. Yields the others,
 * oldest first; the caller deletes those it evicts and stops when it has room.
 */
export function* evictionOrder<K, V extends Used>(map: Map<K, V>): Generator<[K, V]> {
  for (const [key, value] of map) {
    if (value.used) {
      value.used = false;
      map.delete(key);
      map.set(key, value); // visited again by this walk, after the others
      continue;
    }
    yield [key, value];
  }
}
