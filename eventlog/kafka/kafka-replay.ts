import { randomUUID } from "node:crypto";
import type { Kafka } from "kafkajs";
import type { ReplaySource } from "../ports.ts";
import { KafkaSource, type KafkaSourceOptions } from "./kafka-source.ts";

/**
 * Opens a replay of `topics` in a consumer group made for it (the live
 * ingest group's positions are never touched). Without `from` it reads from
 * each partition's earliest record; with `from`, from the first record whose
 * Kafka timestamp (the producer's send time) is at or after it, found with
 * ListOffsets by timestamp. It ends at the high watermarks taken now: events
 * published during the replay are live ingest's.
 */
export async function openKafkaReplay(
  kafka: Kafka,
  topics: string[],
  options: Omit<KafkaSourceOptions, "group" | "topics" | "startOffsets" | "fromBeginning"> & {
    from?: Date;
  },
): Promise<ReplaySource> {
  const { from, ...sourceOptions } = options;
  const admin = kafka.admin();
  await admin.connect();
  const endOffsets = new Map<string, bigint>();
  const startOffsets = new Map<string, string>();
  try {
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const starts =
        from === undefined
          ? undefined
          : await admin.fetchTopicOffsetsByTimestamp(topic, from.getTime());
      for (const end of ends) {
        const key = `${topic}/${end.partition}`;
        const start =
          starts?.find((offset) => offset.partition === end.partition)?.offset ?? end.low;
        startOffsets.set(key, start);
        if (BigInt(start) < BigInt(end.high)) endOffsets.set(key, BigInt(end.high));
      }
    }
  } finally {
    await admin.disconnect();
  }
  const group = `switchboard-replay-${new Date().toISOString().replace(/[:.]/g, "-")}-${randomUUID().slice(0, 8)}`;
  const source = new KafkaSource(kafka, {
    ...sourceOptions,
    group,
    topics,
    fromBeginning: true,
    startOffsets: from === undefined ? undefined : startOffsets,
  });
  return {
    source,
    group,
    endOffsets,
    async cleanUp() {
      const cleaner = kafka.admin();
      await cleaner.connect();
      try {
        await cleaner.deleteGroups([group]);
      } finally {
        await cleaner.disconnect();
      }
    },
  };
}
