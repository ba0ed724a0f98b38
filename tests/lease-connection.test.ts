import { createHarness, type Harness } from './support/harness';

/**
 * Partition leases are renewed on a main-Redis connection of their own: on the connection the
 * steps' write-behinds and loads use, a renewal answered only after everything queued ahead of it,
 * and under load every lease ran out together every ~6 s (all partitions reset and redone).
 */
describe('partition leases', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('are renewed on a connection of their own, not behind the steps’ writes', async () => {
    const clients = (await h.redis.client('LIST')) as string;
    const names = [...clients.matchAll(/ name=(\S+)/g)].map((m) => m[1]!);
    const pid = process.pid;
    const leases = names.filter((n) => n.endsWith(`-leases:${pid}`));
    expect(leases).toHaveLength(1);
    const owner = leases[0]!.replace(`-leases:${pid}`, `:${pid}`);
    expect(names).toContain(owner); // the steps' own connection, beside it
  });
});
