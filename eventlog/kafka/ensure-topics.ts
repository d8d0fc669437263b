import { EVENT_TYPES } from "../../events/schemas.ts";
import { DEAD_LETTER_TOPIC, topicFor } from "../../events/topics.ts";
import { type KafkaClientOptions, kafkaFromBrokers } from "./client.ts";

/** Every topic Switchboard writes: one per event type, and the dead letters. */
export function switchboardTopics(): string[] {
  return [...EVENT_TYPES.map(topicFor), DEAD_LETTER_TOPIC];
}

export interface EnsureTopicsOptions extends KafkaClientOptions {
  /** Default: `switchboardTopics()`. Tests pass their own, unique names. */
  topics?: string[];
  /** Default 3: ingest scales out up to this many consumers per topic. */
  partitions?: number;
  /** Default 1 (a single broker); use 3 on a real cluster. */
  replicationFactor?: number;
}

/**
 * Creates the topics that do not exist yet and waits for their leaders;
 * existing topics are left as they are (their partition count is not
 * changed), so calling it again, or from two processes, is harmless.
 * Resolves with the topics it created.
 */
export async function ensureTopics(
  brokers: string[] | string,
  options: EnsureTopicsOptions = {},
): Promise<string[]> {
  const topics = options.topics ?? switchboardTopics();
  const admin = kafkaFromBrokers(brokers, "switchboard-topic-setup", options).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = [...new Set(topics)].filter((topic) => !existing.has(topic));
    if (missing.length === 0) return [];
    // createTopics treats "already exists" (another process was faster) as success.
    await admin.createTopics({
      topics: missing.map((topic) => ({
        topic,
        numPartitions: options.partitions ?? 3,
        replicationFactor: options.replicationFactor ?? 1,
      })),
      waitForLeaders: true,
    });
    return missing;
  } finally {
    await admin.disconnect();
  }
}
