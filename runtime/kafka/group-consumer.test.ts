import {
  Kafka,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSNonRetriableError,
  logLevel,
} from 'kafkajs';
import { KafkaGroupConsumer } from './group-consumer';

/** A consumer of topic `t` in group `g` on `kafka` (a broker that is not there). */
const groupConsumerOn = (kafka: Kafka): KafkaGroupConsumer =>
  new KafkaGroupConsumer(
    kafka,
    {
      groupId: 'g',
      topics: ['t'],
      coPartitioned: false,
      fromBeginning: false,
      onBatch: async () => undefined,
    },
    ['127.0.0.1:1'],
  );

describe('KafkaGroupConsumer.seek', () => {
  // kafkajs has no group before run() and while it restarts a crashed consumer; a rewind then
  // must not throw (it used to end the pipeline process from a commit's callback).
  it('does nothing while the consumer has no group', () => {
    const kafka = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });
    const consumer = groupConsumerOn(kafka);
    expect(() => consumer.seek({ topic: 't', partition: 0, nextOffset: '5' })).not.toThrow();
  });
});

/** kafkajs' error (its typings declare no constructor argument; it needs a message). */
const coordinatorNotFound = (): Error =>
  new (KafkaJSGroupCoordinatorNotFound as unknown as new (message: string) => Error)(
    'Failed to find group coordinator',
  );
/** What the consumer crashes with: kafkajs' retrier wraps the last error once it gives up. */
const wrapped = (cause: Error): Error =>
  new (KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error)(cause, {
    cause,
  });

describe('KafkaGroupConsumer after a crash kafkajs does not restart', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /** A group consumer on kafkajs' own consumer, its network calls stubbed, its crash handler kept. */
  function setUp() {
    const kafka = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });
    const made = kafka.consumer.bind(kafka);
    let crash: ((event: unknown) => void) | undefined;
    let inner: ReturnType<Kafka['consumer']> | undefined;
    jest.spyOn(kafka, 'consumer').mockImplementation((config) => {
      const c = made(config);
      inner = c;
      jest.spyOn(c, 'connect').mockResolvedValue();
      jest.spyOn(c, 'subscribe').mockResolvedValue();
      jest.spyOn(c, 'run').mockResolvedValue();
      jest.spyOn(c, 'disconnect').mockResolvedValue();
      const on = c.on.bind(c) as (event: string, fn: (e: unknown) => void) => () => void;
      jest.spyOn(c, 'on').mockImplementation(((event: string, fn: (e: unknown) => void) => {
        if (event === c.events.CRASH) crash = fn;
        return on(event, fn);
      }) as typeof c.on);
      return c;
    });
    const consumer = groupConsumerOn(kafka);
    return {
      consumer,
      inner: () => inner!,
      crash: (error: Error) => crash!({ payload: { error, restart: false, groupId: 'g' } }),
    };
  }

  it('connects and runs again after a coordinator lookup failed during a broker restart', async () => {
    const t = setUp();
    await t.consumer.start();
    expect(t.inner().run).toHaveBeenCalledTimes(1);
    t.crash(wrapped(coordinatorNotFound()));
    expect(t.consumer.status().state).toBe('restarting');
    // The first attempt fails (the broker is still away): tried again, later.
    jest.mocked(t.inner().connect).mockRejectedValueOnce(new Error('ECONNREFUSED'));
    await jest.advanceTimersByTimeAsync(500);
    expect(t.inner().run).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(t.inner().connect).toHaveBeenCalledTimes(3);
    expect(t.inner().run).toHaveBeenCalledTimes(2);
    await t.consumer.stop();
  });

  it('stays crashed after an error a broker coming back does not cure, and stop cancels a restart', async () => {
    const t = setUp();
    await t.consumer.start();
    t.crash(new KafkaJSNonRetriableError('not authorized'));
    expect(t.consumer.status().state).toBe('crashed');
    await jest.advanceTimersByTimeAsync(20_000);
    expect(t.inner().run).toHaveBeenCalledTimes(1);

    t.crash(coordinatorNotFound());
    await t.consumer.stop();
    await jest.advanceTimersByTimeAsync(20_000);
    expect(t.inner().run).toHaveBeenCalledTimes(1);
  });
});
