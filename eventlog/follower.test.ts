// EventLog.openFollower on both logs: a reader that starts where another
// group has committed, in a group of its own. Kafka on the real broker
// (test/global-setup.ts); a missing broker fails, never skips.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, inject, it } from "vitest";
import { kafkaFromBrokers } from "./kafka/client.ts";
import { writeCommittedPosition } from "./local/committed-position.ts";
import { openEventLog } from "./open-event-log.ts";
import type { EventSource, LogRecord } from "./ports.ts";

const logger = pino({ level: "silent" });
const cleanUps: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const cleanUp of cleanUps) await cleanUp();
});

/** Reads until `count` records came (and a little longer, to see none more), then closes. */
async function readAll(source: EventSource, count: number): Promise<string[]> {
  const records: LogRecord[] = [];
  const started = source.start(async (batch) => {
    records.push(...batch);
  });
  const deadline = Date.now() + 20_000;
  while (records.length < count) {
    if (Date.now() > deadline) throw new Error(`only ${records.length} of ${count} records`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  await source.close();
  await started;
  return records.map((record) => record.value.toString());
}

describe("EventLog.openFollower", () => {
  it("local log: starts at the other group's position", async () => {
    const directory = await mkdtemp(join(tmpdir(), "switchboard-follower-"));
    cleanUps.push(() => rm(directory, { recursive: true, force: true }));
    const eventLog = openEventLog({ localDirectory: directory, logger });
    const topic = `follow-${randomUUID().slice(0, 8)}`;
    const sink = await eventLog.createSink();
    for (let index = 0; index < 5; index += 1) sink.append(topic, `k${index}`, `v${index}`);
    await sink.flush();
    await sink.close();
    await writeCommittedPosition(join(directory, topic), "stored-up-to-3", 3);

    const follower = await eventLog.openFollower([topic], { after: "stored-up-to-3", name: "t" });
    expect(await readAll(follower, 2)).toEqual(["v3", "v4"]);
  });

  it("kafka: starts at the other group's commits, in a group of its own removed at close", async () => {
    const brokers = inject("kafkaBrokers");
    if (!brokers) throw new Error("no Kafka broker: run without UNIT_ONLY");
    const kafka = kafkaFromBrokers(brokers, "follower-test", { logger });
    const admin = kafka.admin();
    await admin.connect();
    cleanUps.push(() => admin.disconnect());
    const topic = `follow-${randomUUID().slice(0, 8)}`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const eventLog = openEventLog({
      kafkaBrokers: brokers,
      localDirectory: "/nonexistent",
      logger,
      batching: { maxBatchWaitMilliseconds: 100 },
      kafka: { ensureTopics: false },
    });
    const sink = await eventLog.createSink();
    for (let index = 0; index < 5; index += 1) sink.append(topic, `k${index}`, `v${index}`);
    await sink.flush();
    await sink.close();
    const stored = `stored-${randomUUID().slice(0, 8)}`;
    await admin.setOffsets({ groupId: stored, topic, partitions: [{ partition: 0, offset: "3" }] });

    const follower = await eventLog.openFollower([topic], { after: stored, name: "t" });
    expect(await readAll(follower, 2)).toEqual(["v3", "v4"]);
    // The stored group's commits are untouched; the follower's group is gone.
    const [committed] = await admin.fetchOffsets({ groupId: stored, topics: [topic] });
    expect(committed?.partitions).toEqual([{ partition: 0, offset: "3", metadata: null }]);
    const { groups } = await admin.listGroups();
    expect(groups.filter((group) => group.groupId.startsWith("switchboard-follow-t-"))).toEqual([]);

    // A group that never committed: from the earliest record.
    const fromStart = await eventLog.openFollower([topic], { after: `none-${stored}`, name: "u" });
    expect(await readAll(fromStart, 5)).toEqual(["v0", "v1", "v2", "v3", "v4"]);
  }, 60_000);
});
