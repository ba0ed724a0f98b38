import { Redis } from 'ioredis';
import { murmur2 } from '../../runtime/kafka/java-partitioner';
import type { RedisKeys } from '../../stores/redis/keys';

/** A command one process had executed on Redis, as MONITOR reported it. */
export interface ObservedCommand {
  /** Server time, ms. */
  at: number;
  args: string[];
  /** The client that sent it (for a command a script ran: the client that called the script). */
  client: string;
  /** Whether a script ran it. */
  inScript: boolean;
}

/** A write of the watched process while it held no lease of the partition the key belongs to. */
export interface FencingViolation extends ObservedCommand {
  /** The partition the key belongs to; null: a per-user key, which any held lease allows. */
  partition: number | null;
  why: string;
}

interface Lease {
  owner: string;
  /** Server time (ms) the key expires at, unless extended. */
  until: number;
}

/**
 * Watches, with MONITOR, what processes of one test write to a Redis, and tells which writes of
 * one process (found by its connection name, `<client id>:<pid>`: services/boot.ts) came while
 * it held no lease on the partition the written key belongs to.
 *
 * Who holds a lease is followed from the same MONITOR stream, so in the order Redis ran the
 * commands: `SET lease owner PX ttl NX` takes a free (or expired) lease, a script's PEXPIRE
 * extends its holder's, a script's DEL ends it (renew-lease, release-lease compare the owner
 * first, so those run only for the holder). A key belongs to a partition by its hash tag:
 * `{p:N}` (indexes, leases), `{c:<conversation>}` (the partition of the conversation id, as the
 * producers partition it); a per-user key `{u:…}` is written by steps of any partition, so any
 * held lease allows it. Taking a lease (SET NX) is not counted: it writes nothing while another
 * process holds the lease.
 */
export class LeaseMonitor {
  readonly commands: ObservedCommand[] = [];
  private readonly names = new Map<string, string>();
  /** The lease holders as last seen, and how they changed (server ms; null: no holder). */
  private readonly leases = new Map<number, Lease>();
  private readonly history: Array<{ at: number; partition: number; lease: Lease | null }> = [];
  private readonly writeCommands = new Map<string, boolean>();
  private lastScriptCaller = '';

  private constructor(
    /** The connection MONITOR was asked on; ioredis monitors on a duplicate of it. */
    private readonly connection: Redis,
    private readonly monitor: Redis,
    private readonly admin: Redis,
    private readonly keys: RedisKeys,
    private readonly partitions: number,
  ) {}

  /** Starts watching; the leases held now are read first (from `admin`'s view). */
  static async start(url: string, keys: RedisKeys, partitions: number): Promise<LeaseMonitor> {
    const admin = new Redis(url);
    const connection = new Redis(url);
    const watch = new LeaseMonitor(connection, await connection.monitor(), admin, keys, partitions);
    watch.monitor.on('monitor', (time: string, args: string[], source: string) =>
      watch.observe(Number(time) * 1000, args, source),
    );
    await watch.refreshNames();
    const [seconds, micros] = await admin.time();
    const now = Number(seconds) * 1000 + Number(micros) / 1000;
    for (let p = 0; p < partitions; p++) {
      const key = keys.partitionLease(p);
      const [owner, ttl] = await Promise.all([admin.get(key), admin.pttl(key)]);
      // Unless a command seen meanwhile said otherwise: it is the later word.
      if (!owner || ttl <= 0 || watch.history.some((h) => h.partition === p)) continue;
      const lease = { owner, until: now + ttl };
      watch.leases.set(p, lease);
      watch.history.unshift({ at: Number.NEGATIVE_INFINITY, partition: p, lease });
    }
    return watch;
  }

  /** Client addresses by connection name, from CLIENT LIST (later ones from CLIENT SETNAME). */
  async refreshNames(): Promise<void> {
    const list = (await this.admin.client('LIST')) as string;
    for (const line of list.split('\n')) {
      const addr = /\baddr=(\S+)/.exec(line)?.[1];
      const name = /\bname=(\S*)/.exec(line)?.[1];
      if (addr && name) this.names.set(addr, name);
    }
  }

  /** The commands a process (its pid) sent since `from` (server ms), scripts' included. */
  commandsOf(pid: number, from = 0): ObservedCommand[] {
    return this.commands.filter((c) => c.at >= from && this.isOf(c.client, pid));
  }

  /**
   * The writes of process `pid` since `from` (server ms) to keys of this test (`prefix`) made
   * while it held no lease of the key's partition. Resolves once the command table said which
   * commands write.
   */
  async violations(pid: number, from = 0): Promise<FencingViolation[]> {
    const own = this.commandsOf(pid, from);
    await this.learnCommands(own.map((c) => c.args[0]!.toLowerCase()));
    const prefix = this.keys.all().slice(0, -1);
    const out: FencingViolation[] = [];
    for (const command of own) {
      const name = command.args[0]!.toLowerCase();
      const key = command.args[1];
      if (!this.writeCommands.get(name) || !key?.startsWith(prefix)) continue;
      const partition = this.partitionOf(key);
      if (partition === 'lease') {
        if (name === 'set' && command.args.some((a) => a.toUpperCase() === 'NX')) continue;
        if (command.inScript) continue; // compare-and-extend / compare-and-delete: the holder's
      }
      const held = this.heldBy(pid, command.at);
      const p = partition === 'lease' ? this.leasePartition(key) : partition;
      const ok = p === null ? held.size > 0 : held.has(p);
      if (!ok)
        out.push({
          ...command,
          partition: p,
          why:
            p === null
              ? 'a per-user key written while the process held no lease at all'
              : `written while partition ${p}'s lease was not the process's (held: ${[...held].join(',') || 'none'})`,
        });
    }
    return out;
  }

  stop(): void {
    this.monitor.disconnect();
    this.connection.disconnect();
    this.admin.disconnect();
  }

  private observe(at: number, args: string[], source: string): void {
    const name = args[0]!.toLowerCase();
    const inScript = source === 'lua';
    const client = inScript ? this.lastScriptCaller : source;
    if (!inScript && (name === 'evalsha' || name === 'eval' || name.startsWith('fcall')))
      this.lastScriptCaller = source;
    if (!inScript && name === 'client' && args[1]?.toLowerCase() === 'setname' && args[2])
      this.names.set(source, args[2]);
    const key = args[1];
    if (key === undefined) return;
    const prefix = this.keys.all().slice(0, -1);
    if (!key.startsWith(prefix)) return;
    this.commands.push({ at, args, client, inScript });
    const partition = this.leasePartition(key);
    if (partition === null) return;
    const current = this.leases.get(partition);
    const live = current && current.until > at ? current : undefined;
    if (name === 'set' && args.some((a) => a.toUpperCase() === 'NX')) {
      const px = args.findIndex((a) => a.toUpperCase() === 'PX');
      if (!live && px > 0)
        this.setLease(at, partition, { owner: args[2]!, until: at + Number(args[px + 1]) });
    } else if (name === 'pexpire' && live) {
      this.setLease(at, partition, { owner: live.owner, until: at + Number(args[2]) });
    } else if (name === 'del' || name === 'unlink') {
      this.setLease(at, partition, null);
    }
  }

  private setLease(at: number, partition: number, lease: Lease | null): void {
    if (lease) this.leases.set(partition, lease);
    else this.leases.delete(partition);
    this.history.push({ at, partition, lease });
  }

  /** The partitions whose lease process `pid` held at server time `at`. */
  private heldBy(pid: number, at: number): Set<number> {
    const state = new Map<number, Lease | null>();
    for (const h of this.history) {
      if (h.at > at) break;
      state.set(h.partition, h.lease);
    }
    const held = new Set<number>();
    for (const [partition, lease] of state)
      if (lease && lease.until > at && lease.owner.includes(`/${pid}/`)) held.add(partition);
    return held;
  }

  private isOf(client: string, pid: number): boolean {
    return this.names.get(client)?.endsWith(`:${pid}`) ?? false;
  }

  private leasePartition(key: string): number | null {
    for (let p = 0; p < this.partitions; p++) if (key === this.keys.partitionLease(p)) return p;
    return null;
  }

  /** 'lease', a partition, or null (a per-user key). */
  private partitionOf(key: string): number | 'lease' | null {
    if (this.leasePartition(key) !== null) return 'lease';
    const tag = /\{([pcu]):([^}]*)\}/.exec(key);
    if (tag?.[1] === 'p') return Number(tag[2]);
    // As the producers partition a conversation's events (JavaCompatiblePartitioner).
    if (tag?.[1] === 'c') return (murmur2(Buffer.from(tag[2]!)) & 0x7fffffff) % this.partitions;
    return null;
  }

  private async learnCommands(names: string[]): Promise<void> {
    for (const name of new Set(names)) {
      if (this.writeCommands.has(name)) continue;
      const [info] = (await this.admin.call('COMMAND', 'INFO', name)) as Array<
        [string, number, string[]] | null
      >;
      this.writeCommands.set(name, info?.[2]?.includes('write') ?? false);
    }
  }
}
