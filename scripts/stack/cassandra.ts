/**
 * Cassandra 5.0 as one test node, from the Maven jars in .stack/cache/cassandra/lib. We write the
 * cassandra.yaml and logback.xml ourselves (the jars ship no conf/), and pass the JVM options that
 * the release's bin/cassandra would: Java 17 module exports/opens, the jamm agent, attach-self.
 * Single-node speed-ups: one token, no bootstrap, no wait for gossip to settle.
 */
import { Client } from 'cassandra-driver';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LOCAL_STACK } from '../../config/local-stack';
import { VERSIONS } from './images';
import { ensureMavenLibs } from './fetch';
import { describeRange, findJava, type JavaRuntime } from './java';
import { ensureDir, ManagedServer, StackError, type SpawnPlan } from './managed-server';
import { cacheDir, confDir, dataDir, logsDir, mavenDir } from './paths';
import type { Progress } from './progress';

/** Cassandra 5.0 supports Java 11 and 17 only. */
const JAVA = { min: 11, max: 17 };

/** From Cassandra 5.0's conf/jvm17-server.options (JPMS section): without them start-up fails. */
const JDK17_MODULE_OPTIONS = [
  '--add-exports java.base/jdk.internal.misc=ALL-UNNAMED',
  '--add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED',
  '--add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED',
  '--add-exports java.rmi/sun.rmi.server=ALL-UNNAMED',
  '--add-exports java.sql/java.sql=ALL-UNNAMED',
  '--add-exports java.base/java.lang.ref=ALL-UNNAMED',
  '--add-exports jdk.unsupported/sun.misc=ALL-UNNAMED',
  '--add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED',
  '--add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED',
  '--add-opens java.base/java.lang.module=ALL-UNNAMED',
  '--add-opens java.base/jdk.internal.loader=ALL-UNNAMED',
  '--add-opens java.base/jdk.internal.ref=ALL-UNNAMED',
  '--add-opens java.base/jdk.internal.reflect=ALL-UNNAMED',
  '--add-opens java.base/jdk.internal.math=ALL-UNNAMED',
  '--add-opens java.base/jdk.internal.module=ALL-UNNAMED',
  '--add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED',
  '--add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED',
  '--add-opens java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-opens java.base/java.io=ALL-UNNAMED',
  '--add-opens java.base/java.nio=ALL-UNNAMED',
  '--add-opens java.base/java.lang.reflect=ALL-UNNAMED',
  '--add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED',
  '--add-opens java.base/java.lang=ALL-UNNAMED',
  '--add-opens java.base/java.util=ALL-UNNAMED',
].flatMap((o) => o.split(' '));

export class CassandraServer extends ManagedServer {
  readonly name = 'cassandra';
  readonly title = `Cassandra ${VERSIONS.cassandra}`;
  readonly address = `${LOCAL_STACK.host}:${LOCAL_STACK.cassandra.port}`;
  readonly executable = 'java';
  readonly ports = [
    LOCAL_STACK.cassandra.port,
    LOCAL_STACK.cassandra.storagePort,
    LOCAL_STACK.cassandra.jmxPort,
  ];
  readonly startTimeoutMs = 180_000;
  override readonly stopTimeoutMs = 60_000;
  private java: JavaRuntime | undefined;

  private readonly libDir = path.join(cacheDir('cassandra'), 'lib');

  preflight(): void {
    this.java = findJava(JAVA);
    if (!this.java) {
      throw new StackError(
        `no ${describeRange(JAVA)} found — ${this.title} runs on Java 11 or 17 only ` +
          '(looked in JAVA_HOME, PATH and /usr/lib/jvm).\n' +
          '  Fix: sudo apt-get install openjdk-17-jdk-headless',
      );
    }
  }

  override async fetch(progress: Progress): Promise<void> {
    await ensureMavenLibs(this, path.join(mavenDir, 'cassandra.pom.xml'), this.libDir, progress);
  }

  protected async prepare(): Promise<SpawnPlan> {
    if (!this.java) this.preflight();
    const data = ensureDir(dataDir('cassandra'));
    const conf = ensureDir(confDir('cassandra'));
    const yamlFile = path.join(conf, 'cassandra.yaml');
    const logback = path.join(conf, 'logback.xml');
    fs.writeFileSync(yamlFile, cassandraYaml(data));
    fs.writeFileSync(logback, LOGBACK);
    const jamm = fs.readdirSync(this.libDir).find((f) => /^jamm-.*\.jar$/.test(f));
    if (!jamm)
      throw new StackError(`no jamm jar in ${this.libDir}: delete it and run again to re-fetch`);
    return {
      command: (this.java as JavaRuntime).bin,
      args: [
        '-Xms1g',
        '-Xmx1g',
        '-Xss256k',
        '-XX:+UseG1GC',
        '-XX:+ParallelRefProcEnabled',
        '-XX:MaxTenuringThreshold=1',
        '-XX:G1HeapRegionSize=16m',
        '-XX:MaxGCPauseMillis=300',
        '-XX:+ExitOnOutOfMemoryError',
        '-XX:+PerfDisableSharedMem',
        '-Djava.net.preferIPv4Stack=true',
        '-Djdk.attach.allowAttachSelf=true',
        ...JDK17_MODULE_OPTIONS,
        '-Dio.netty.tryReflectionSetAccessible=true',
        '-Dio.netty.allocator.useCacheForAllThreads=true',
        '-Dio.netty.allocator.maxOrder=11',
        // jamm measures object sizes for memtable accounting; bin/cassandra always adds it.
        `-javaagent:${path.join(this.libDir, jamm)}`,
        `-Dcassandra.config=file://${yamlFile}`,
        '-Dcassandra-foreground=yes',
        `-Dcassandra.storagedir=${data}`,
        `-Dcassandra.logdir=${logsDir}`,
        `-Dlogback.configurationFile=file://${logback}`,
        // Local-only JMX (nodetool) on a port of ours, not the default 7199.
        `-Dcassandra.jmx.local.port=${LOCAL_STACK.cassandra.jmxPort}`,
        '-Dcassandra.skip_wait_for_gossip_to_settle=0',
        '-Dcassandra.ring_delay_ms=0',
        '-cp',
        `${this.libDir}/*`,
        'org.apache.cassandra.service.CassandraDaemon',
      ],
      cwd: data,
    };
  }

  async checkHealth(timeoutMs: number): Promise<void> {
    const client = new Client({
      contactPoints: [this.address],
      localDataCenter: LOCAL_STACK.cassandra.datacenter,
      socketOptions: { connectTimeout: Math.min(timeoutMs, 3000), readTimeout: timeoutMs },
    });
    try {
      const rs = await client.execute('SELECT release_version FROM system.local');
      if (!rs.first()) throw new Error('system.local returned no row');
    } finally {
      await client.shutdown().catch(() => undefined);
    }
  }
}

function cassandraYaml(data: string): string {
  const { host } = LOCAL_STACK;
  const { port, storagePort } = LOCAL_STACK.cassandra;
  return `# Generated by scripts/stack/cassandra.ts on every start: edit that file, not this one.
cluster_name: ticks
num_tokens: 1
initial_token: 0
auto_bootstrap: false
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "${host}:${storagePort}"
listen_address: ${host}
rpc_address: ${host}
storage_port: ${storagePort}
native_transport_port: ${port}
start_native_transport: true
commitlog_sync: periodic
commitlog_sync_period: 10000ms
data_file_directories:
  - ${data}/data
commitlog_directory: ${data}/commitlog
saved_caches_directory: ${data}/saved_caches
hints_directory: ${data}/hints
cdc_raw_directory: ${data}/cdc_raw
`;
}

/** Quiet: warnings and errors, plus the lines that say the node is up and serving CQL. */
const LOGBACK = `<!-- Generated by scripts/stack/cassandra.ts. Output goes to stdout: .stack/logs/cassandra.log -->
<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra.service.CassandraDaemon" level="INFO"/>
  <logger name="org.apache.cassandra.service.StorageService" level="INFO"/>
  <logger name="org.apache.cassandra.transport" level="INFO"/>
  <root level="WARN"><appender-ref ref="OUT"/></root>
</configuration>
`;
