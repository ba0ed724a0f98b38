/**
 * The conversation list last read for each user, kept only to guess which conversation keys to
 * read in the same round trip as the list itself: an answer is always built from what that
 * round trip read (the list read in it is compared with the guess), never from this. Bounded by
 * users and by ids held; the least recently used leave first.
 */
export class KnownLists {
  private readonly lists = new Map<string, readonly string[]>();
  private ids = 0;

  constructor(
    private readonly maxUsers = 10_000,
    private readonly maxIds = 500_000,
  ) {}

  get(userId: string): readonly string[] | undefined {
    const list = this.lists.get(userId);
    if (list) {
      this.lists.delete(userId);
      this.lists.set(userId, list);
    }
    return list;
  }

  set(userId: string, list: readonly string[]): void {
    this.forget(userId);
    if (list.length > this.maxIds) return;
    this.lists.set(userId, list);
    this.ids += list.length;
    while (this.lists.size > this.maxUsers || this.ids > this.maxIds)
      this.forget(this.lists.keys().next().value!);
  }

  private forget(userId: string): void {
    const list = this.lists.get(userId);
    if (!list) return;
    this.lists.delete(userId);
    this.ids -= list.length;
  }
}

/** Whether two lists hold the same ids (in any order; ids within a list are distinct). */
export function sameIds(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const inA = new Set(a);
  return b.every((id) => inA.has(id));
}
