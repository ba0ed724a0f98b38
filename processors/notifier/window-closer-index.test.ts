import { randomBytes } from 'node:crypto';
import { recordingContext } from '../../tests/support/recording-context';
import type { InboundRecord } from '../../runtime/kafka/types';
import { PipelineMetrics } from '../../runtime/metrics';
import { type RedisClient } from '../../stores/redis/connect';
import { ConversationStore } from '../../stores/redis/conversation-store';
import { RedisKeys } from '../../stores/redis/keys';
import { PartitionIndex } from '../../stores/redis/partition-index';
import { ReadModel } from '../../stores/redis/read-model';
import { UserStore } from '../../stores/redis/user-store';
import { ConversationStates } from '../../stores/state/conversation-states';
import { deleteKeys, scanKeys } from '../../tests/support/harness';
import { runOne, connectMainAndAux } from '../../tests/support/redis-state';
import { ReceiptApplier } from '../receipts/receipt-applier';
import type { ReceiptJob } from '../receipts/receipt-job';
import { StateSteps } from '../state-steps';
import { BadgeUpdater } from '../unread/badge-updater';
import { VisibleBadge } from '../unread/visible-badge';
import { UpdateEmitter } from './update-emitter';
import { WindowCloser } from './window-closer';

const PARTITION = 1;
const WINDOW_MS = 2000;

/** The window index, with a hook run when a close's update of it begins (before it applies). */
class InterleavedIndex extends PartitionIndex {
  beforeReschedule?: () => Promise<void>;

  override async reschedule(...args: Parameters<PartitionIndex['reschedule']>): Promise<void> {
    const between = this.beforeReschedule;
    this.beforeReschedule = undefined;
    await between?.();
    return super.reschedule(...args);
  }
}

/**
 * A group window closed while the next step of the partition reopens it: the close's update of
 * the window index must see the reopened window, whenever in its delivery the step ran. Decided
 * before the step, it removed the open window's entry, and that window closed only when another
 * receipt of the conversation came (its senders told seconds late, or not at all).
 */
describe('WindowCloser and the window index (real Redis)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}wc`;
  const keys = new RedisKeys(prefix);
  let redis: RedisClient;
  let aux: RedisClient;

  beforeAll(async () => {
    ({ main: redis, aux } = await connectMainAndAux());
  });
  afterAll(async () => {
    for (const client of [redis, aux]) {
      await deleteKeys(client, await scanKeys(client, `${prefix}:*`));
      client.disconnect();
    }
  });

  it('keeps the entry of a window a step opened again while the close was being delivered', async () => {
    const c = 'g';
    const store = new ConversationStore(redis, keys, 3600);
    await runOne(
      redis,
      store.membersChanged(
        c,
        ['A', 'B', 'C'].map((userId) => ({ op: 'add' as const, userId, kind: 'GROUP' })),
      ),
    );
    await runOne(
      redis,
      store.messagesSent(c, [
        { messageId: 'g-1', seq: 1, senderId: 'A', kind: 'GROUP', sentAt: 1 },
      ]),
    );

    const metrics = new PipelineMetrics({ defaultMetrics: false });
    const states = new ConversationStates(redis, keys, { maxBytes: 64 * 1024 * 1024 });
    const steps = new StateSteps(states, 3600, 2000);
    const windows = new InterleavedIndex(redis, keys, 'windows');
    const windowing = {
      steps,
      windows,
      emitter: new UpdateEmitter(metrics),
      metrics,
      sharesReads: () => true,
      windowMs: WINDOW_MS,
      windowGraceMs: 0,
    };
    const applier = new ReceiptApplier({
      ...windowing,
      badges: new BadgeUpdater(new UserStore(redis, aux, keys, 3600, 600), metrics),
      visibleBadge: new VisibleBadge(new ReadModel(redis, keys), () => new Map()),
    });
    const closer = new WindowCloser({
      ...windowing,
      punctuateIntervalMs: 100,
      maxMessagesPerSender: 50,
    });

    // Receipts stamped in consecutive windows: B's in the first, C's in the next.
    const first = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS - 2 * WINDOW_MS;
    const readBy = (userId: string, offset: number, at: number): ReceiptJob => {
      const record: InboundRecord = {
        topic: 'receipt_events',
        partition: PARTITION,
        offset: String(offset),
        timestamp: at,
        key: Buffer.from(c),
        value: Buffer.from('receipt'),
      };
      return {
        conversationId: c,
        userId,
        deviceId: 'phone',
        occurredAt: at,
        command: { type: 'read', seq: 1 },
        version: offset,
        record,
        deadline: at + 30_000,
      };
    };
    const step = async (job: ReceiptJob, now: number) => {
      const run = recordingContext(now, { partition: PARTITION });
      await applier.publishEffects([job], await applier.apply([job], run.ctx), run.ctx);
      return run;
    };

    const b = await step(readBy('B', 1, first + 10), first + 20);
    await b.afterSend();
    expect(await windows.due([PARTITION], first + WINDOW_MS)).toEqual([
      { partition: PARTITION, conversationId: c, at: first + WINDOW_MS },
    ]);

    // The close of the first window; C's read, in the next window, is applied while its
    // delivery (write-behind, then the index update) is under way.
    const close = recordingContext(first + WINDOW_MS + 5, { partition: PARTITION });
    await closer.punctuate([PARTITION], close.ctx);
    expect(states.get(c).window.size).toBe(0);
    const second = first + 2 * WINDOW_MS;
    windows.beforeReschedule = async () => {
      const cStep = await step(readBy('C', 2, first + WINDOW_MS + 10), first + WINDOW_MS + 20);
      expect(states.get(c).window.size).toBeGreaterThan(0); // open again
      await cStep.afterSend();
    };
    await close.afterSend();

    // The reopened window is still indexed: it closes at the end of the next window.
    expect(await windows.due([PARTITION], second)).toEqual([
      { partition: PARTITION, conversationId: c, at: second },
    ]);
    expect(await redis.zscore(keys.openWindows(PARTITION), c)).toBe(String(second));
  });
});
