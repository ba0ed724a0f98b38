/**
 * A conversation's events of one step go to Redis in as few script calls as their order allows:
 * one call per run of consecutive events of one kind (messages, member changes, receipts), at most
 * a script's bound each. Conversations are independent of each other, so only the order within a
 * conversation is kept; an event of another kind ends its conversation's run, since one script
 * cannot apply both kinds and the events must still reach Redis in their order.
 */
export interface ConversationRun<T> {
  readonly conversationId: string;
  /** Consecutive items of the conversation, in their order, all of one kind. */
  readonly items: T[];
  /** Where each item stood in the input, so the run's results can go back there. */
  readonly positions: number[];
}

export interface RunRules<T> {
  conversationOf(item: T): string;
  /** Items of another kind start a new run; without it every item is of the same kind. */
  kindOf?(item: T): string;
  /** Most items in one run (one script call's bound). */
  maxPerRun: number;
}

/**
 * Groups items into runs, in the order the runs begin: a conversation's runs keep their order,
 * and a run takes its conversation's items until one of another kind comes or it is full.
 */
export function conversationRuns<T>(items: readonly T[], rules: RunRules<T>): ConversationRun<T>[] {
  const runs: ConversationRun<T>[] = [];
  const open = new Map<string, { run: ConversationRun<T>; kind: string | undefined }>();
  items.forEach((item, position) => {
    const conversationId = rules.conversationOf(item);
    const kind = rules.kindOf?.(item);
    let current = open.get(conversationId);
    if (!current || current.kind !== kind || current.run.items.length >= rules.maxPerRun) {
      current = { run: { conversationId, items: [], positions: [] }, kind };
      open.set(conversationId, current);
      runs.push(current.run);
    }
    current.run.items.push(item);
    current.run.positions.push(position);
  });
  return runs;
}

/** Each run's results (one per item, in the run's order) back in the order of the input. */
export function inInputOrder<R>(
  runs: ReadonlyArray<ConversationRun<unknown>>,
  results: ReadonlyArray<readonly R[]>,
): R[] {
  const ordered: R[] = new Array(runs.reduce((n, run) => n + run.items.length, 0));
  runs.forEach((run, r) =>
    run.positions.forEach((position, k) => (ordered[position] = results[r]![k]!)),
  );
  return ordered;
}
