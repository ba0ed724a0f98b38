/**
 * Redis 7 from the system's redis-server binary, one class for both instances (main and
 * auxiliary: separate processes, ports and data, as in production). Append-only persistence,
 * because processors commit Kafka offsets after writing Redis: a Redis that restarts empty while
 * the offsets survive would leave state behind the log.
 */
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { LOCAL_STACK } from '../../config/local-stack';
import { ensureDir, ManagedServer, StackError, type SpawnPlan } from './managed-server';
import { dataDir } from './paths';

export type RedisRole = 'main' | 'aux';

/** A Redis of the stack other than main and aux (a cluster node): its name, title and port. */
export interface RedisInstance {
  name: string;
  title: string;
  port: number;
}

export class RedisServer extends ManagedServer {
  readonly name: string;
  readonly title: string;
  readonly address: string;
  readonly executable = 'redis-server';
  readonly ports: readonly number[];
  readonly startTimeoutMs = 10_000;
  override readonly stopTimeoutMs = 10_000;
  readonly port: number;

  constructor(instance: RedisRole | RedisInstance) {
    super();
    const { name, title, port } =
      typeof instance === 'string'
        ? {
            name: `redis-${instance}`,
            title: `Redis (${instance})`,
            port: instance === 'main' ? LOCAL_STACK.redisMain.port : LOCAL_STACK.redisAux.port,
          }
        : instance;
    this.name = name;
    this.title = title;
    this.port = port;
    this.ports = [this.port];
    this.address = `redis://${LOCAL_STACK.host}:${this.port}`;
  }

  /** Arguments a kind of instance adds (a cluster node's); none for main and aux. */
  protected extraArgs(_dir: string): string[] {
    return [];
  }

  preflight(): void {
    if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error) {
      throw new StackError(
        'redis-server not found — install it: sudo apt-get install redis-server\n' +
          '  (only the binary is used: the stack starts its own instances on its own ports)',
      );
    }
  }

  protected async prepare(): Promise<SpawnPlan> {
    const dir = ensureDir(dataDir(this.name));
    return {
      command: 'redis-server',
      args: [
        '--port',
        String(this.port),
        '--bind',
        LOCAL_STACK.host,
        // We detach it ourselves and keep our own pid file.
        '--daemonize',
        'no',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--logfile',
        this.logFile,
        // Keep our argv visible in /proc/<pid>/cmdline: that is how `down` recognises our process.
        '--set-proc-title',
        'no',
        ...this.extraArgs(dir),
      ],
      cwd: dir,
    };
  }

  /** A raw PING: no client library state to clean up, and "-LOADING" (AOF replay) is not healthy. */
  checkHealth(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: LOCAL_STACK.host, port: this.port });
      let reply = '';
      const fail = (err: Error): void => {
        socket.destroy();
        reject(err);
      };
      socket.setTimeout(timeoutMs, () => fail(new Error('PING timed out')));
      socket.once('error', fail);
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk) => {
        reply += chunk.toString('utf8');
        if (!reply.includes('\r\n')) return;
        socket.destroy();
        if (reply.startsWith('+PONG')) resolve();
        else reject(new Error(`PING answered ${reply.trim()}`));
      });
    });
  }
}
