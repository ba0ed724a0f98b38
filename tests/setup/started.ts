/** How the global setup tells the global teardown what it started (same jest process). */
export const STARTED_ENV = 'TICKS_TEST_STACK_STARTED';
export const CONTAINERS_KEY = '__ticksTestContainers';
