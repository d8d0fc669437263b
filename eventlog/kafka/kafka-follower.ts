import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Admin, Kafka } from "kafkajs";
import type { EventSource } from "../ports.ts";
import { KafkaSource, type KafkaSourceOptions } from "./kafka-source.ts";

/**
 * Opens a reader of `topics` that starts where the consumer group `after`
 * has committed (a partition it never committed, from its earliest record),
 * in a group made for this reader alone: every follower sees every record,
 * and none moves another group's positions. The gateway follows its fleet's
 * spend this way from where ingest has stored — what the ClickHouse seed
 * holds — on. The group is removed when the reader closes (best effort: an
 * unremoved one only holds offsets until the broker's retention drops them).
 */
export async function openKafkaFollower(
  kafka: Kafka,
  topics: string[],
  options: Omit<KafkaSourceOptions, "group" | "topics" | "startOffsets" | "fromBeginning"> & {
    after: string;
    name: string;
  },
): Promise<EventSource> {
  const { after, name, ...sourceOptions } = options;
  const startOffsets = new Map<string, string>();
  // Bounded: a gateway opens its follower at start, and must not wait long on a Kafka that is down.
  const admin = kafka.admin({ retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1_000 } });
  await admin.connect();
  try {
    for (const { topic, partitions } of await fetchCommits(admin, after, topics)) {
      for (const { partition, offset } of partitions) {
        // -1: the group has not committed this partition; the reader starts at its earliest.
        if (BigInt(offset) >= 0n) startOffsets.set(`${topic}/${partition}`, offset);
      }
    }
  } finally {
    await admin.disconnect();
  }
  const group = `switchboard-follow-${name}-${randomUUID().slice(0, 8)}`;
  const source = new KafkaSource(kafka, {
    ...sourceOptions,
    group,
    topics,
    fromBeginning: true,
    startOffsets,
  });
  return {
    start: (handler) => source.start(handler),
    lag: () => source.lag(),
    async close() {
      await source.close();
      const cleaner = kafka.admin();
      try {
        await cleaner.connect();
        await cleaner.deleteGroups([group]);
      } catch (error) {
        sourceOptions.logger?.warn(
          { err: error, group },
          "kafka follower: could not remove its consumer group; the broker drops its offsets after their retention",
        );
      } finally {
        await cleaner.disconnect().catch(() => {});
      }
    },
  };
}

const FETCH_COMMITS_ATTEMPTS = 8;

/**
 * The group's commits. A fresh broker (or one just restarted) answers "not
 * the correct coordinator" or "coordinator loading" for a few seconds, which
 * kafkajs's admin does not retry: retried here, 250 ms doubling, ~15 s in all.
 */
async function fetchCommits(
  admin: Admin,
  group: string,
  topics: string[],
): ReturnType<Admin["fetchOffsets"]> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await admin.fetchOffsets({ groupId: group, topics });
    } catch (error) {
      const retriable = (error as { retriable?: boolean }).retriable === true;
      if (!retriable || attempt >= FETCH_COMMITS_ATTEMPTS) throw error;
      await sleep(Math.min(250 * 2 ** (attempt - 1), 4_000));
    }
  }
}
