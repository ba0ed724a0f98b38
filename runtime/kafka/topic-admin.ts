import { ConfigResourceTypes, type Admin, type ITopicConfig } from 'kafkajs';

/** Where a partition's replicas are: broker ids. */
export interface PartitionReplicas {
  partition: number;
  leader: number;
  replicas: number[];
  /** The in-sync replicas: those an acks=all write waits for. */
  isr: number[];
}

export interface TopicToCreate {
  name: string;
  partitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
}

/**
 * The admin calls ticks needs, and nothing else: creating and describing topics for the services;
 * offsets, lags and groups mostly for the scripts and tests. Got through KafkaClient.withAdmin (and
 * by a KafkaGroupConsumer that keeps its place, for the topics' ends), never by a stream runtime.
 */
export class TopicAdmin {
  constructor(private readonly admin: Admin) {}

  /** Creates the topics that do not exist; returns the names it created. */
  async createMissing(topics: TopicToCreate[]): Promise<string[]> {
    const existing = new Set(await this.admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length === 0) return [];
    const specs: ITopicConfig[] = missing.map((t) => ({
      topic: t.name,
      numPartitions: t.partitions,
      replicationFactor: t.replicationFactor,
      configEntries: Object.entries(t.configs).map(([name, value]) => ({ name, value })),
    }));
    await this.admin.createTopics({ topics: specs, waitForLeaders: false });
    await this.waitForLeaders(missing.map((t) => t.name));
    return missing.map((t) => t.name);
  }

  /**
   * Waits until new topics are listed and every partition has a leader. kafkajs' own wait gives
   * up on "unknown topic", which a broker of a cluster answers until the controller's news of the
   * topic reaches it; and each call asks a broker at random, so one broker's answer says nothing
   * of the others': the topics count as there once CHECKS_IN_A_ROW answers in a row agree.
   */
  private async waitForLeaders(names: string[], timeoutMs = 30_000): Promise<void> {
    const CHECKS_IN_A_ROW = 6;
    const deadline = Date.now() + timeoutMs;
    let agreed = 0;
    let last: unknown;
    while (agreed < CHECKS_IN_A_ROW) {
      if (Date.now() > deadline)
        throw new Error(
          `topics ${names.join(', ')} were created but have no leader after ${timeoutMs} ms` +
            `${last ? ` (${String(last)})` : ''}: check that every Kafka broker is up`,
        );
      agreed = (await this.listedWithLeaders(names).catch((err: unknown) => {
        last = err;
        return false;
      }))
        ? agreed + 1
        : 0;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private async listedWithLeaders(names: string[]): Promise<boolean> {
    const listed = new Set(await this.admin.listTopics());
    if (!names.every((n) => listed.has(n))) return false;
    try {
      const { topics } = await this.admin.fetchTopicMetadata({ topics: names });
      return topics.every((t) => t.partitions.every((p) => p.leader >= 0));
    } catch (err) {
      const type = (err as { type?: string }).type;
      if (type === 'UNKNOWN_TOPIC_OR_PARTITION' || type === 'LEADER_NOT_AVAILABLE') return false;
      throw err;
    }
  }

  async partitionCounts(names: string[]): Promise<Map<string, number>> {
    const existing = new Set(await this.admin.listTopics());
    const present = names.filter((n) => existing.has(n));
    const counts = new Map<string, number>();
    if (present.length === 0) return counts;
    const { topics } = await this.admin.fetchTopicMetadata({ topics: present });
    for (const t of topics) counts.set(t.name, t.partitions.length);
    return counts;
  }

  /** Leader, replicas and in-sync replicas of every partition of the topics, by topic. */
  async partitionReplicas(names: string[]): Promise<Map<string, PartitionReplicas[]>> {
    const { topics } = await this.admin.fetchTopicMetadata({ topics: names });
    return new Map(
      topics.map((t) => [
        t.name,
        t.partitions.map((p) => ({
          partition: p.partitionId,
          leader: p.leader,
          replicas: p.replicas,
          isr: p.isr,
        })),
      ]),
    );
  }

  /** A topic's configuration values (its own or the broker's default), by name. */
  async topicConfig(topic: string, names: string[]): Promise<Record<string, string>> {
    const { resources } = await this.admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: names }],
      includeSynonyms: false,
    });
    return Object.fromEntries(
      (resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]),
    );
  }

  async deleteTopics(names: string[]): Promise<void> {
    const existing = new Set(await this.admin.listTopics());
    const present = names.filter((n) => existing.has(n));
    if (present.length > 0) await this.admin.deleteTopics({ topics: present });
  }

  /** Latest offsets (high watermarks) of every partition of a topic. */
  async endOffsets(topic: string): Promise<Map<number, string>> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, o.high]));
  }

  /** Moves a consumer group (which must be stopped) to the earliest offsets of the topics. */
  async resetGroupToEarliest(groupId: string, topics: string[]): Promise<void> {
    for (const topic of topics) await this.admin.resetOffsets({ groupId, topic, earliest: true });
  }

  /** Records the group has not committed yet, summed over the topics' partitions. */
  async groupLag(groupId: string, topics: string[]): Promise<number> {
    let lag = 0;
    const committed = await this.admin.fetchOffsets({ groupId, topics });
    for (const { topic, partitions } of committed) {
      const ends = await this.endOffsets(topic);
      for (const { partition, offset } of partitions) {
        const end = Number(ends.get(partition) ?? 0);
        lag += Math.max(0, end - Math.max(0, Number(offset)));
      }
    }
    return lag;
  }

  /** Consumer groups whose id starts with `prefix` (cleanup of a tool's own groups). */
  async groupsStartingWith(prefix: string): Promise<string[]> {
    const { groups } = await this.admin.listGroups();
    return groups.map((g) => g.groupId).filter((id) => id.startsWith(prefix));
  }

  /** Topics whose name starts with `prefix`. */
  async topicsStartingWith(prefix: string): Promise<string[]> {
    return (await this.admin.listTopics()).filter((t) => t.startsWith(prefix));
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.admin.deleteGroups([groupId]).catch(() => undefined);
  }

  /** Earliest offsets (log start) of every partition of a topic. */
  async startOffsets(topic: string): Promise<Map<number, string>> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, o.low]));
  }

  /**
   * Per partition, the first offset whose record timestamp is at or after `timestamp` (the end
   * offset when there is none), as Kafka's ListOffsets answers.
   */
  async offsetsForTime(topic: string, timestamp: number): Promise<Map<number, string>> {
    const offsets = await this.admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
    return new Map(offsets.map((o) => [o.partition, o.offset]));
  }

  /** A group's committed offsets for a topic's partitions ('-1' where it has none). */
  async committedOffsets(groupId: string, topic: string): Promise<Map<number, string>> {
    const [committed] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((committed?.partitions ?? []).map((p) => [p.partition, p.offset]));
  }

  /** Positions a consumer group (which must have no running member) at the given offsets. */
  async setGroupOffsets(
    groupId: string,
    topic: string,
    offsets: Map<number, string>,
  ): Promise<void> {
    await this.admin.setOffsets({
      groupId,
      topic,
      partitions: [...offsets].map(([partition, offset]) => ({ partition, offset })),
    });
  }

  /** How many consumers are members of the group right now (0 when it is empty or unknown). */
  async groupMemberCount(groupId: string): Promise<number> {
    const { groups } = await this.admin.describeGroups([groupId]);
    return groups[0]?.members.length ?? 0;
  }
}
