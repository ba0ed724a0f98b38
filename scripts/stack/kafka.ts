/**
 * Kafka 4.1 in KRaft combined mode (broker + controller in one JVM), from the Maven jars in
 * .stack/cache/kafka/lib. The stack's broker is a single test node: replication factor 1
 * everywhere (a higher offsets-topic factor leaves consumers stuck in "coordinator not
 * available"). A node of the optional 3-broker cluster (kafka-cluster.ts) is the same server with
 * another KafkaNode. Both: no topic auto-creation (topics are created by the project's own
 * script), and no initial rebalance delay (consumer groups in tests form at once).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { LOCAL_STACK } from '../../config/local-stack';
import { VERSIONS } from './images';
import { ensureMavenLibs } from './fetch';
import { RUN_MARKER, tailFile } from './log-tail';
import { findJava, describeRange, type JavaRuntime } from './java';
import { ensureDir, ManagedServer, StackError, type SpawnPlan } from './managed-server';
import { cacheDir, confDir, dataDir, mavenDir } from './paths';
import type { Progress } from './progress';

const JAVA = { min: 17 };

/** A KRaft cluster id: 16 random bytes, base64url without padding (what StorageTool prints). */
export function newClusterId(): string {
  return randomBytes(16).toString('base64url');
}

/** One KRaft node: what differs between the single broker and a node of the cluster. */
export interface KafkaNode {
  /** The server's name: its pid, log, data and conf files. */
  name: string;
  nodeId: number;
  port: number;
  controllerPort: number;
  /** controller.quorum.voters: `id@host:controllerPort` of every controller. */
  voters: string;
  /** Replication of the internal topics and the broker defaults; minInsync also for acks=all. */
  replication: { factor: number; minInsync: number };
  /** JVM heap, e.g. ['-Xms512m', '-Xmx1g']. */
  heap: string[];
  /** The cluster id to format a new log directory with (every node of a cluster shares it). */
  clusterId(): string;
  /** More server.properties lines. */
  extraProperties?: string;
  startTimeoutMs: number;
}

/** The stack's single broker. */
export const SINGLE_NODE: KafkaNode = {
  name: 'kafka',
  nodeId: 1,
  port: LOCAL_STACK.kafka.port,
  controllerPort: LOCAL_STACK.kafka.controllerPort,
  voters: `1@${LOCAL_STACK.host}:${LOCAL_STACK.kafka.controllerPort}`,
  replication: { factor: 1, minInsync: 1 },
  heap: ['-Xms512m', '-Xmx1g'],
  clusterId: newClusterId,
  startTimeoutMs: 60_000,
};

export class KafkaServer extends ManagedServer {
  readonly name: string;
  readonly title: string;
  readonly address: string;
  readonly executable = 'java';
  readonly ports: readonly number[];
  readonly startTimeoutMs: number;
  private java: JavaRuntime | undefined;

  private readonly libDir = path.join(cacheDir('kafka'), 'lib');
  private readonly logDir: string;

  constructor(readonly node: KafkaNode = SINGLE_NODE) {
    super();
    this.name = node.name;
    this.title =
      node === SINGLE_NODE ? `Kafka ${VERSIONS.kafka}` : `Kafka ${VERSIONS.kafka} (${node.name})`;
    this.address = `${LOCAL_STACK.host}:${node.port}`;
    this.ports = [node.port, node.controllerPort];
    this.startTimeoutMs = node.startTimeoutMs;
    this.logDir = path.join(dataDir(node.name), 'kraft-logs');
  }

  preflight(): void {
    this.java = findJava(JAVA);
    if (!this.java) {
      throw new StackError(
        `java not found — ${this.title} needs ${describeRange(JAVA)}.\n` +
          '  Fix: sudo apt-get install openjdk-17-jdk-headless (or set JAVA_HOME)',
      );
    }
  }

  override async fetch(progress: Progress): Promise<void> {
    await ensureMavenLibs(this, path.join(mavenDir, 'kafka.pom.xml'), this.libDir, progress);
  }

  protected async prepare(): Promise<SpawnPlan> {
    if (!this.java) this.preflight();
    const java = (this.java as JavaRuntime).bin;
    const conf = ensureDir(confDir(this.name));
    ensureDir(this.logDir);
    const serverProps = path.join(conf, 'server.properties');
    const log4j = path.join(conf, 'log4j2.properties');
    fs.writeFileSync(serverProps, this.serverProperties());
    fs.writeFileSync(log4j, LOG4J2);
    const classpath = `${this.libDir}/*`;
    const logging = `-Dlog4j2.configurationFile=${log4j}`;

    // An unformatted log dir fails with "No readable meta.properties files found". Format once;
    // -g makes it harmless should the directory already be formatted.
    if (!fs.existsSync(path.join(this.logDir, 'meta.properties'))) {
      await this.formatStorageWithRetry(java, [logging, '-cp', classpath], serverProps);
    }

    return {
      command: java,
      args: [
        ...this.node.heap,
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-XX:InitiatingHeapOccupancyPercent=35',
        '-XX:+ExplicitGCInvokesConcurrent',
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        logging,
        '-cp',
        classpath,
        'kafka.Kafka',
        serverProps,
      ],
      cwd: dataDir(this.name),
    };
  }

  /**
   * A CI run once saw the format fail with nothing to tell why: a failed attempt leaves its output
   * in the error (the log's tail) and is tried once more on an emptied directory, which holds
   * nothing yet (no meta.properties means no data).
   */
  private async formatStorageWithRetry(
    java: string,
    jvmArgs: string[],
    serverProps: string,
  ): Promise<void> {
    const code = await this.formatStorage(java, jvmArgs, serverProps);
    if (code === 0) return;
    fs.rmSync(this.logDir, { recursive: true, force: true });
    ensureDir(this.logDir);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const again = await this.formatStorage(java, jvmArgs, serverProps);
    if (again !== 0) {
      const tail = tailFile(this.logFile, 40);
      // A jar cut short (a full disk, an interrupted download into ~/.m2) fails class loading.
      const brokenJar = tail.some((l) =>
        /NoClassDefFound|ClassNotFound|ZipException|invalid LOC/.test(l),
      );
      throw new StackError(
        `formatting Kafka storage failed twice (exit ${code}, then ${again})\n  log: ${this.logFile}` +
          (brokenJar
            ? `\n  Fix: a jar looks damaged — delete ${this.libDir} and ~/.m2/repository/org/apache/kafka, then run \`npm run stack:up\` again`
            : ''),
        tail,
      );
    }
  }

  /** kafka.tools.StorageTool format; async so that other servers' health polls keep running. */
  private async formatStorage(
    java: string,
    jvmArgs: string[],
    serverProps: string,
  ): Promise<number | null> {
    const args = [
      ...jvmArgs,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      this.node.clusterId(),
      '-c',
      serverProps,
      '-g',
    ];
    fs.mkdirSync(path.dirname(this.logFile), { recursive: true });
    fs.appendFileSync(
      this.logFile,
      `\n${RUN_MARKER}${new Date().toISOString()} formatting Kafka storage\n`,
    );
    const fd = fs.openSync(this.logFile, 'a');
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(java, args, { stdio: ['ignore', fd, fd] });
      child.once('exit', resolve);
      child.once('error', () => resolve(-1));
    });
    fs.closeSync(fd);
    return code;
  }

  async checkHealth(timeoutMs: number): Promise<void> {
    const kafka = new Kafka({
      clientId: 'ticks-stack-health',
      brokers: [this.address],
      logLevel: logLevel.NOTHING,
      connectionTimeout: Math.min(timeoutMs, 3000),
      requestTimeout: timeoutMs,
      retry: { retries: 0 },
    });
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      // A cluster's node is healthy once it has joined (registered and unfenced).
      if (!cluster.brokers.some((b) => b.nodeId === this.node.nodeId))
        throw new Error(`broker ${this.node.nodeId} not in the cluster metadata yet`);
      await admin.listTopics();
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  private serverProperties(): string {
    const { host } = LOCAL_STACK;
    const { port, controllerPort, nodeId, voters, replication } = this.node;
    const { factor, minInsync } = replication;
    return `# Generated by scripts/stack/kafka.ts on every start: edit that file, not this one.
process.roles=broker,controller
node.id=${nodeId}
controller.quorum.voters=${voters}
listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controllerPort}
advertised.listeners=PLAINTEXT://${host}:${port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${this.logDir}
num.partitions=1
default.replication.factor=${factor}
min.insync.replicas=${minInsync}
offsets.topic.replication.factor=${factor}
transaction.state.log.replication.factor=${factor}
transaction.state.log.min.isr=${minInsync}
share.coordinator.state.topic.replication.factor=${factor}
share.coordinator.state.topic.min.isr=${minInsync}
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
${this.node.extraProperties ?? ''}`;
  }
}

/** Quiet: warnings and errors, plus the few INFO lines that say the node is up. */
const LOG4J2 = `# Generated by scripts/stack/kafka.ts. Output goes to stdout, which is .stack/logs/kafka.log.
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = OUT
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = info
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = info
logger.controller.name = kafka.server.ControllerServer
logger.controller.level = info
logger.storage.name = kafka.tools.StorageTool
logger.storage.level = info
`;
