import { createServer, type Server, type Socket } from 'node:net';
import { SchemaRegistryUnavailableError } from './codec-errors';
import { ConfluentRegistryClient } from './confluent-registry-client';

/** A registry that accepts connections and never answers (a hung process, a black hole). */
describe('ConfluentRegistryClient against a registry that never answers', () => {
  let server: Server;
  const sockets: Socket[] = [];
  let client: ConfluentRegistryClient;
  const TIMEOUT_MS = 300;

  beforeAll(async () => {
    server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    client = new ConfluentRegistryClient({
      url: `http://127.0.0.1:${port}`,
      requestTimeoutMs: TIMEOUT_MS,
    });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it.each([
    ['writerType', () => client.writerType(7), /fetching schema id 7: no answer within 300 ms/],
    ['lookup', () => client.lookup('t-value', '"string"'), /looking up t-value: no answer/],
    [
      'register',
      () => client.register('t-value', '"string"', 'BACKWARD'),
      /not reachable|no answer/,
    ],
  ])(
    '%s fails as unavailable (retriable) within its timeout',
    async (_name, call, message) => {
      const started = Date.now();
      const error = (await call().then(
        () => new Error('answered'),
        (err: unknown) => err,
      )) as Error;
      expect(error).toBeInstanceOf(SchemaRegistryUnavailableError);
      expect((error as SchemaRegistryUnavailableError).retriable).toBe(true);
      expect(`${error.message} ${String((error.cause as Error | undefined)?.message)}`).toMatch(
        message,
      );
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 5);
    },
    5_000,
  );
});
