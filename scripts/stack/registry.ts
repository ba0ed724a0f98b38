/**
 * Apicurio Registry 3.3 (Confluent-compatible API at /apis/ccompat/v7), the Quarkus fast-jar from
 * Maven Central unpacked into .stack/cache/apicurio/quarkus-app.
 *
 * Storage: SQL storage on a file-backed H2 database in .stack/data/registry (verified on this
 * machine: a schema registered, the registry stopped and started again, the schema and its id read
 * back). Records in Kafka carry schema ids and survive `down`/`up`, so the schemas must too; the
 * default in-memory H2 would forget them. H2 needs nothing else running, so unlike kafkasql
 * storage the registry does not have to wait for Kafka.
 *
 * Java: Apicurio 3.3 is compiled for Java 21 (class file 65), so it cannot use the Java 17 that
 * Kafka and Cassandra run on; we pick any Java >= 21 found (JAVA_HOME, PATH, /usr/lib/jvm).
 */
import * as path from 'node:path';
import { LOCAL_STACK, localUrls } from '../../config/local-stack';
import { VERSIONS } from './images';
import { ensureMavenArtifact, ensureUnpacked } from './fetch';
import { describeRange, findJava, type JavaRuntime } from './java';
import { ensureDir, ManagedServer, StackError, type SpawnPlan } from './managed-server';
import { cacheDir, dataDir } from './paths';
import type { Progress } from './progress';

const JAVA = { min: 21 };
const ARCHIVE = `apicurio-registry-app-${VERSIONS.apicurio}-all.tar.gz`;

export class RegistryServer extends ManagedServer {
  readonly name = 'registry';
  readonly title = `Apicurio Registry ${VERSIONS.apicurio}`;
  readonly address = localUrls.registryUrl;
  readonly executable = 'java';
  readonly ports = [LOCAL_STACK.registry.port, LOCAL_STACK.registry.managementPort];
  readonly startTimeoutMs = 90_000;
  override readonly stopTimeoutMs = 15_000;
  private java: JavaRuntime | undefined;

  private readonly archive = path.join(cacheDir('apicurio'), ARCHIVE);
  private readonly appDir = path.join(cacheDir('apicurio'), 'quarkus-app');

  preflight(): void {
    this.java = findJava(JAVA);
    if (!this.java) {
      throw new StackError(
        `no ${describeRange(JAVA)} found — ${this.title} is compiled for Java 21 ` +
          '(looked in JAVA_HOME, PATH and /usr/lib/jvm).\n' +
          '  Fix: install a JDK 21+ (e.g. sudo apt-get install openjdk-21-jre-headless where your ' +
          'distribution has it, or a Temurin 21+ JDK under /usr/lib/jvm)',
      );
    }
  }

  override async fetch(progress: Progress): Promise<void> {
    await ensureMavenArtifact(
      this,
      `io.apicurio:apicurio-registry-app:${VERSIONS.apicurio}:tar.gz:all`,
      this.archive,
      progress,
    );
    await ensureUnpacked(this.archive, this.appDir, progress);
  }

  protected async prepare(): Promise<SpawnPlan> {
    if (!this.java) this.preflight();
    const data = ensureDir(dataDir('registry'));
    const { host } = LOCAL_STACK;
    const { port, managementPort } = LOCAL_STACK.registry;
    return {
      command: (this.java as JavaRuntime).bin,
      args: [
        '-Xms256m',
        '-Xmx512m',
        '-XX:+ExitOnOutOfMemoryError',
        `-Dquarkus.http.host=${host}`,
        `-Dquarkus.http.port=${port}`,
        // Health and metrics live on a second port (Quarkus' default 9000): keep it ours too.
        `-Dquarkus.management.host=${host}`,
        `-Dquarkus.management.port=${managementPort}`,
        '-Dapicurio.storage.kind=sql',
        '-Dapicurio.storage.sql.kind=h2',
        `-Dapicurio.datasource.url=jdbc:h2:file:${path.join(data, 'registry')}`,
        // One access-log line per request would bury everything else (health checks poll).
        '-Dquarkus.http.access-log.enabled=false',
        '-jar',
        path.join(this.appDir, 'quarkus-run.jar'),
      ],
      cwd: data,
    };
  }

  async checkHealth(timeoutMs: number): Promise<void> {
    const res = await fetch(`${this.address}/subjects`, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 200) throw new Error(`GET /subjects answered ${res.status}`);
    await res.arrayBuffer();
  }
}
