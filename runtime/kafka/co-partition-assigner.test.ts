import { coPartitionAssignment } from './co-partition-assigner';
import { CoPartitioningError } from '../topics';

describe('coPartitionAssignment', () => {
  const topics = new Map([
    ['conversation_events', 6],
    ['receipt_events', 6],
  ]);

  it('gives each member the same partition numbers of every topic', () => {
    const assignment = coPartitionAssignment(['m-b', 'm-a'], topics);
    expect(assignment).toEqual({
      'm-a': { conversation_events: [0, 2, 4], receipt_events: [0, 2, 4] },
      'm-b': { conversation_events: [1, 3, 5], receipt_events: [1, 3, 5] },
    });
  });

  it('assigns every partition exactly once across members', () => {
    const assignment = coPartitionAssignment(['a', 'b', 'c', 'd'], topics);
    const owned = Object.values(assignment).flatMap((t) => t['receipt_events'] ?? []);
    expect(owned.sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('leaves extra members idle rather than splitting a partition', () => {
    const assignment = coPartitionAssignment(
      ['a', 'b', 'c'],
      new Map([
        ['x', 2],
        ['y', 2],
      ]),
    );
    expect(assignment['c']).toEqual({});
  });

  it('refuses topics with different partition counts', () => {
    expect(() =>
      coPartitionAssignment(
        ['a'],
        new Map([
          ['x', 6],
          ['y', 4],
        ]),
      ),
    ).toThrow(CoPartitioningError);
  });
});
