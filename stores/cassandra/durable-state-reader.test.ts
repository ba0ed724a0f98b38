import { concurrent } from 'cassandra-driver';
import { createHarness, type Harness } from '../../tests/support/harness';
import { DurableStateReader } from './durable-state-reader';

/**
 * Reads against a real Cassandra return every row of a partition, however many pages it takes
 * (a group's members beyond one page were lost by reads that took the first page only).
 */
describe('DurableStateReader (real Cassandra)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({}, { cassandra: true, startPipeline: false });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('returns every row of a partition, page after page', async () => {
    // One more than the driver's default page (5,000 rows), which is all a bare execute returns.
    const users = Array.from({ length: 5_001 }, (_, i) => `u${i}`);
    await concurrent.executeConcurrent(
      h.cassandra!,
      'INSERT INTO members (conversation_id, user_id, active, listed) VALUES (?, ?, true, true)',
      users.map((user) => ['big-group', user]),
      { concurrencyLevel: 64 },
    );
    const reader = new DurableStateReader(h.cassandra!);
    expect((await reader.members('big-group')).map((m) => m.userId).sort()).toEqual(users.sort());
  });
});
