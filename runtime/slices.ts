/**
 * Items in order, cut into slices of at most `maxItems` items and, where it can, at most
 * `maxWeight` in all: a single item heavier than that gets a slice of its own.
 */
export function slicesOf<T>(
  items: readonly T[],
  limits: { maxItems: number; maxWeight: number; weight: (item: T) => number },
): T[][] {
  const slices: T[][] = [];
  let current: T[] = [];
  let weight = 0;
  for (const item of items) {
    const w = limits.weight(item);
    if (
      current.length > 0 &&
      (current.length >= limits.maxItems || weight + w > limits.maxWeight)
    ) {
      slices.push(current);
      current = [];
      weight = 0;
    }
    current.push(item);
    weight += w;
  }
  if (current.length > 0) slices.push(current);
  return slices;
}
