/**
 * TICKS_TEST_STACK=containers: the stack of docker-compose.yml, started with testcontainers for
 * machines that have Docker. Each compose service runs with its image, command, user, environment
 * and host ports exactly as in the file (volumes are left out: test containers are throwaway),
 * and is then polled with the same health checks as the local stack.
 */
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import { LOCAL_STACK, localUrls } from '../../config/local-stack';
import { readCompose, type ComposeService } from '../../scripts/stack/compose-file';
import { allServers } from '../../scripts/stack/servers';
import { sleep } from '../../scripts/stack/proc';

/** The env vars the app reads; the same values as the local defaults, since the ports match. */
export const CONTAINER_ENV = {
  TICKS_KAFKA_BROKERS: localUrls.kafkaBrokers,
  TICKS_REGISTRY_URL: localUrls.registryUrl,
  TICKS_REDIS_URL: localUrls.redisMainUrl,
  TICKS_AUX_REDIS_URL: localUrls.redisAuxUrl,
  TICKS_CASSANDRA_CONTACT_POINTS: localUrls.cassandraContactPoints,
  TICKS_CASSANDRA_DATACENTER: LOCAL_STACK.cassandra.datacenter,
};

function container(service: ComposeService): GenericContainer {
  let c = new GenericContainer(service.image)
    .withEnvironment(service.environment)
    .withExposedPorts(...service.ports.map((p) => ({ container: p.container, host: p.host })))
    .withStartupTimeout(180_000);
  if (service.command) c = c.withCommand(service.command);
  if (service.user) c = c.withUser(service.user);
  return c;
}

async function waitHealthy(): Promise<void> {
  await Promise.all(
    allServers().map(async (server) => {
      const deadline = Date.now() + server.startTimeoutMs;
      while (!(await server.isHealthy())) {
        if (Date.now() > deadline)
          throw new Error(`${server.name} container did not become healthy`);
        await sleep(1000);
      }
    }),
  );
}

export async function startContainers(): Promise<StartedTestContainer[]> {
  const started = await Promise.all(readCompose().map((s) => container(s).start()));
  try {
    await waitHealthy();
  } catch (err) {
    await Promise.all(started.map((c) => c.stop()));
    throw err;
  }
  Object.assign(process.env, CONTAINER_ENV);
  return started;
}
