import type { WorkloadOptions } from '../scripts/traffic/workload';
import { clientView, type ClientView } from './support/client-view';
import { durableModel, durableWatermarks } from './support/durable-model';
import {
  caughtUp,
  createHarness,
  eventually,
  outputsCollected,
  scanKeys,
  snapshot,
  type Harness,
} from './support/harness';
import { copyInput } from './support/input-copy';
import { PipelineProcess } from './support/pipeline-process';
import { dumpKeys, type DumpedKey } from './support/redis-dump';
import { loadWorkload } from './support/workload-load';

/**
 * DESIGN.md: "a crash at any point, then restart, ends in the same state as a clean run; no event
 * lost, no count doubled, no update or changelog entry missing", with versions a client can trust.
 * A clean pipeline process and pipeline processes that SIGKILL themselves (TICKS_FAULT_KILL_AT)
 * at the n-th step delivery — after its outputs were produced and before its state was written
 * to Redis, or after that write and before its offsets were committed — then restarted to catch
 * up, process the very same input (records copied byte for byte, timestamps included).
 *
 * What is compared is what does not depend on how a run interleaves the two input topics: a step
 * takes up to TICKS_MAX_STEP_RECORDS of each, receipts after the messages up to their time, so
 * which messages a receipt finds depends on what was fetched when, and two clean runs differ in
 * it too (measured: the logs of watermark moves, the 'told up to' marks, the unread counts and
 * badge sizes unread syncs carry, and group summaries, whose windows are wall-clock). So: the
 * final state users read and Redis holds, the durable state the changelog yields, the direct
 * updates a client ends on; and for every update, that its version does not mislead a client.
 */
const WORKLOAD: WorkloadOptions = {
  seed: 29,
  users: 100,
  directChats: 50,
  groups: 5,
  groupSize: 16,
  maxBurst: 5,
};
const EVENTS = 4000;
const ENV = {
  // No held receipt may expire (a dead letter would depend on timing); the killed member leaves
  // the group soon; small steps (about 60 deliveries in all), so that there are many to crash at.
  TICKS_PENDING_RECEIPT_WAIT_MS: '60000',
  TICKS_SESSION_TIMEOUT_MS: '6000',
  TICKS_MAX_STEP_RECORDS: '50',
};
const KILLS = ['produced:3', 'flushed:3', 'produced:12', 'flushed:12', 'produced:34', 'flushed:34'];

interface Outcome {
  /** What users read through the read model: watermarks, unread counts, badges. */
  state: Record<string, unknown>;
  /** Every key of the run's prefix in the main Redis, but what depends on interleaving. */
  redis: Record<string, DumpedKey>;
  /** Auxiliary dedupe marks that contradict the main badge they stand for. */
  wrongMarks: string[];
  view: ClientView;
  /** What the changelog gives Cassandra: messages, deliveries by id, watermarks. */
  durable: unknown;
  /** Of a run killed at its fault point: the signal it died of, and the input it left. */
  died?: { signal: string | null; lag: number };
}

/**
 * Keys and fields that depend on the interleaving (see above) or on the clock: the logs of the
 * watermarks' moves (a read overtaken by the reader's own later message moves nothing: a group's
 * `log` hash, a direct chat's 'l…:' fields of meta, an older layout's `log:<user>` keys), the
 * 'told up to' marks (which receipt told: meta's 'tr:' and 'td:' fields), the update version
 * counter (meta uver, floored at the wall clock when a state is loaded), the group window, the
 * partition keys (lease, indexes).
 */
function orderIndependent(dump: Record<string, DumpedKey>): Record<string, DumpedKey> {
  const kept: Record<string, DumpedKey> = {};
  for (const [name, key] of Object.entries(dump)) {
    if (/^\{p:|:log:|:log$|:win$/.test(name)) continue;
    if (name.endsWith(':meta')) {
      const { uver: _uver, ...rest } = key.value as Record<string, string>;
      const untold = Object.entries(rest).filter(([field]) => !/^(t[rd]|l\d*):/.test(field));
      kept[name] = { ...key, value: Object.fromEntries(untold) };
    } else kept[name] = key;
  }
  return kept;
}

/** Marks `dd:{recipient}:source` whose 1 / 0 is not whether the recipient's badge has the source. */
async function wrongMarks(h: Harness): Promise<string[]> {
  const prefix = `${h.config.redis.keyPrefix}:dd:`;
  const wrong: string[] = [];
  for (const key of await scanKeys(h.aux, `${prefix}*`)) {
    const [, recipient, source] = /^\{(.+)\}:(.+)$/.exec(key.slice(prefix.length)) ?? [];
    const mark = await h.aux.get(key);
    const inBadge = Number((await h.read.badge(recipient!)).includes(source!));
    if (mark !== String(inBadge)) wrong.push(`${key}=${mark}, badge has it: ${inBadge}`);
  }
  return wrong;
}

function inputLag(h: Harness): Promise<number> {
  return h.kafka.withAdmin((a) =>
    a.groupLag(h.config.kafka.groupId, [h.topics.conversationEvents, h.topics.receiptEvents]),
  );
}

/**
 * Runs the input already on the harness: a pipeline killed at `killAt` (if any), then one that
 * catches up and stops; what they ended in.
 */
async function run(
  h: Harness,
  conversations: ReadonlyArray<{ id: string; members: readonly string[] }>,
  killAt?: string,
): Promise<Outcome> {
  let child: PipelineProcess | undefined;
  try {
    let died: Outcome['died'];
    if (killAt) {
      const killed = (child = new PipelineProcess(h, { TICKS_FAULT_KILL_AT: killAt }));
      await eventually(`the pipeline to kill itself at ${killAt}`, () => !killed.running, 60_000);
      died = { signal: killed.child.signalCode, lag: await inputLag(h) };
    }
    child = new PipelineProcess(h);
    await caughtUp(h, 60_000);
    await child.signal('SIGTERM'); // closes the open group windows
    await outputsCollected(h);
    const watermarks = durableWatermarks(h.out.stateChanges);
    const { messages, deliveredById } = durableModel(h.out.stateChanges);
    return {
      state: await snapshot(h, conversations),
      redis: orderIndependent(await dumpKeys(h.redis, `${h.config.redis.keyPrefix}:`)),
      wrongMarks: await wrongMarks(h),
      view: clientView(h.out.updates),
      durable: { messages, deliveredById, watermarks },
      died,
    };
  } finally {
    await child?.kill();
  }
}

/** The direct-chat status updates a client ends on (the other kinds depend on interleaving). */
function directUpdates(view: ClientView): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(view.shown).filter(([key]) => key.endsWith('/MessageStatusUpdate')),
  );
}

describe('a pipeline killed between produce and flush, or between flush and commit, ends as a clean run', () => {
  const harnesses: Harness[] = [];
  let clean: Outcome;
  const crashed = new Map<string, Outcome>();

  beforeAll(async () => {
    // Set up one after the other (topics created at once confuse the broker's metadata), then
    // run side by side.
    for (let i = 0; i <= KILLS.length; i++)
      harnesses.push(await createHarness(ENV, { startPipeline: false }));
    const [source, ...copies] = harnesses;
    const workload = await loadWorkload(source!, WORKLOAD, EVENTS);
    for (const h of copies) await copyInput(source!, h);
    const [first, ...rest] = await Promise.all(
      harnesses.map((h, i) => run(h, workload.conversationList, KILLS[i - 1])),
    );
    clean = first!;
    KILLS.forEach((k, i) => crashed.set(k, rest[i]!));
  }, 120_000);
  afterAll(async () => {
    for (const h of harnesses) await h.close();
  });

  it('the clean run did real work, and its updates mislead no client', () => {
    const values = Object.values(clean.state) as Array<{ unread?: number } | string[]>;
    expect(values.some((v) => !Array.isArray(v) && (v.unread ?? 0) > 0)).toBe(true);
    expect(values.some((v) => Array.isArray(v) && v.length > 0)).toBe(true);
    const kinds = new Set(Object.keys(clean.view.shown).map((k) => k.split('/')[2]));
    expect([...kinds].sort()).toEqual(['GroupSenderSummary', 'MessageStatusUpdate', 'UnreadSync']);
    expect(Object.keys(directUpdates(clean.view)).length).toBeGreaterThan(50);
    expect(clean.view.conflicts).toEqual([]);
    expect(clean.view.outOfOrder).toEqual([]);
    expect(clean.wrongMarks).toEqual([]);
  });

  it.each(KILLS)('killed at %s and restarted: the clean run’s end', (killAt) => {
    const c = crashed.get(killAt)!;
    // It died of its fault point, with input left to process.
    expect(c.died).toEqual({ signal: 'SIGKILL', lag: expect.any(Number) });
    expect(c.died!.lag).toBeGreaterThan(0);

    expect(c.state).toEqual(clean.state);
    expect(c.redis).toEqual(clean.redis);
    expect(c.wrongMarks).toEqual([]);
    expect(c.durable).toEqual(clean.durable);
    // Redone steps tell their updates again with higher versions: never one version for two
    // contents, never a version below one already sent about the conversation.
    expect(c.view.conflicts).toEqual([]);
    expect(c.view.outOfOrder).toEqual([]);
    expect(directUpdates(c.view)).toEqual(directUpdates(clean.view));
  });
});
