/**
 * Global setup and teardown for a jest run started by a test (tests/redis-cluster.test.ts runs
 * the store tests against its own Redis Cluster): the parent run's global setup already brought
 * the stack up, and its teardown stops it.
 */
export default async function stackAlreadyUp(): Promise<void> {}
