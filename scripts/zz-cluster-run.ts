import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { OwnRedisCluster } from '../tests/support/own-redis-cluster';

async function main() {
  const cluster = new OwnRedisCluster({
    name: 'serving2-cluster-check',
    firstPort: 23481,
    nodes: 6,
    replicasPerMaster: 1,
    busOffset: 100,
    nodeTimeoutMs: 2000,
  });
  await cluster.start();
  try {
    const root = '/work/wt-serving2';
    const run = spawnSync(
      process.execPath,
      [path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'), 'stores/redis/read-model.test.ts', 'stores/redis/user-store.test.ts',
       '--globalSetup', '/work/tools/noop-setup.js', '--globalTeardown', '/work/tools/noop-setup.js', '--forceExit'],
      { cwd: root, encoding: 'utf8', timeout: 900_000, env: { ...process.env, TICKS_REDIS_CLUSTER: 'true', TICKS_REDIS_URL: cluster.url } },
    );
    process.stdout.write(run.stderr.slice(-15000));
  } finally {
    await cluster.stop();
  }
}
void main();
