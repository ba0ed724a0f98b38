import { conversationRuns, inInputOrder } from './conversation-runs';

interface Item {
  c: string;
  kind: 'message' | 'member';
  n: number;
}

const item = (c: string, kind: Item['kind'], n: number): Item => ({ c, kind, n });
const rules = { conversationOf: (i: Item) => i.c, kindOf: (i: Item) => i.kind, maxPerRun: 3 };
const shape = (runs: ReturnType<typeof conversationRuns<Item>>) =>
  runs.map((run) => [run.conversationId, run.items.map((i) => i.n)]);

describe('conversationRuns', () => {
  it('gathers a conversation’s consecutive items of one kind, even when other conversations interleave', () => {
    const items = [
      item('a', 'message', 0),
      item('b', 'message', 1),
      item('a', 'message', 2),
      item('b', 'member', 3),
      item('a', 'message', 4),
    ];
    const runs = conversationRuns(items, rules);
    expect(shape(runs)).toEqual([
      ['a', [0, 2, 4]],
      ['b', [1]],
      ['b', [3]],
    ]);
    expect(runs.map((run) => run.positions)).toEqual([[0, 2, 4], [1], [3]]);
  });

  it('starts a new run when the kind changes, so the conversation’s order is kept', () => {
    const items = [
      item('a', 'message', 0),
      item('a', 'member', 1),
      item('a', 'member', 2),
      item('a', 'message', 3),
    ];
    expect(shape(conversationRuns(items, rules))).toEqual([
      ['a', [0]],
      ['a', [1, 2]],
      ['a', [3]],
    ]);
  });

  it('caps a run at maxPerRun items', () => {
    const items = Array.from({ length: 7 }, (_, n) => item('a', 'message', n));
    expect(shape(conversationRuns(items, rules))).toEqual([
      ['a', [0, 1, 2]],
      ['a', [3, 4, 5]],
      ['a', [6]],
    ]);
  });

  it('without kindOf, every item of a conversation is of one kind', () => {
    const items = [item('a', 'message', 0), item('a', 'member', 1), item('b', 'member', 2)];
    const runs = conversationRuns(items, { conversationOf: (i) => i.c, maxPerRun: 10 });
    expect(shape(runs)).toEqual([
      ['a', [0, 1]],
      ['b', [2]],
    ]);
  });

  it('has no runs for no items', () => {
    expect(conversationRuns([], rules)).toEqual([]);
  });
});

describe('inInputOrder', () => {
  it('puts each run’s results back where their items stood', () => {
    const items = [
      item('a', 'message', 0),
      item('b', 'message', 1),
      item('a', 'message', 2),
      item('a', 'member', 3),
      item('b', 'message', 4),
    ];
    const runs = conversationRuns(items, rules);
    const results = runs.map((run) => run.items.map((i) => `result ${i.n}`));
    expect(inInputOrder(runs, results)).toEqual([
      'result 0',
      'result 1',
      'result 2',
      'result 3',
      'result 4',
    ]);
  });
});
