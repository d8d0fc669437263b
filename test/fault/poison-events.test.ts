// Malformed, oversized and wrong-version events mixed into the real stream,
// on the partitions real events use: each becomes a dead letter with its
// original bytes, topic, partition, offset and reason (in the table and on
// the dead-letter topic), and never holds up the events behind it.
import { isUtf8 } from "node:buffer";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Partitioners } from "kafkajs";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EventLog,
  ensureTopics,
  kafkaFromBrokers,
  openEventLog,
} from "../../eventlog/index.ts";
import type { EventSink, EventSource, LogRecord } from "../../eventlog/ports.ts";
import { DEAD_LETTER_TOPIC, topicFor } from "../../events/topics.ts";
import { INGEST_TOPICS, runIngest } from "../../ingest/consumer.ts";
import { EventLoader } from "../../ingest/loader.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../fixtures/clickhouse.ts";
import { sampleRequestCompleted } from "../fixtures/sample-events.ts";
import { type KafkaBroker, startKafkaBroker } from "../kafka/broker.ts";
import { newTenant, sendCompletions, startFaultGateway, startVendors } from "./harness.ts";
import { expectExactlyOnce, waitForLedger } from "./ledger.ts";

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
const tenant = newTenant();
let broker: KafkaBroker;
let vendors: Awaited<ReturnType<typeof startVendors>>;
let clickhouse: TestClickHouse;
let outboxDirectory: string;
let eventLog: EventLog;
let gatewaySink: EventSink;
let deadLetterSink: EventSink;
let source: EventSource;
let ingestion: Promise<void>;
let gateway: Awaited<ReturnType<typeof startFaultGateway>>;

beforeAll(async () => {
  // A broker of this file's own: poison on the shared topics would reach every
  // other test's ingest and its dead-letter checks.
  broker = await startKafkaBroker();
  await ensureTopics(broker.brokers, { logger });
  vendors = await startVendors();
  clickhouse = await freshClickHouse();
  outboxDirectory = await mkdtemp(join(tmpdir(), "switchboard-fault-outbox-"));
  eventLog = openEventLog({
    kafkaBrokers: broker.brokers,
    localDirectory: "/nonexistent",
    outboxDirectory,
    logger,
    batching: { maxBatchWaitMilliseconds: 100 },
  });
  gatewaySink = await eventLog.createSink({ outbox: "gateway" });
  gateway = await startFaultGateway({
    tenant,
    vendors: vendors.vendors,
    sink: gatewaySink,
    logger,
  });
  deadLetterSink = await eventLog.createSink();
  source = await eventLog.createSource(`fault-poison-${tenant}`, INGEST_TOPICS);
  ingestion = runIngest(source, new EventLoader(clickhouse.client, deadLetterSink), logger);
}, 90_000);

afterAll(async () => {
  await gateway?.app.close();
  await gatewaySink?.close();
  await source?.close();
  await ingestion;
  await deadLetterSink?.close();
  await clickhouse?.close();
  await vendors?.close();
  await broker?.destroy();
  if (outboxDirectory) await rm(outboxDirectory, { recursive: true, force: true });
}, 30_000);

interface Poison {
  name: string;
  value: Buffer;
  reason: RegExp;
}

function poisons(): Poison[] {
  const valid = sampleRequestCompleted({ tenant_id: tenant });
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  return [
    {
      name: "cut-off JSON",
      value: Buffer.from('{"event_type":"request_completed","oops":'),
      reason: /^invalid JSON/,
    },
    { name: "empty", value: Buffer.alloc(0), reason: /^invalid JSON/ },
    { name: "a JSON array", value: json([1, 2, 3]), reason: /^event is not a JSON object$/ },
    {
      name: "unknown type",
      value: json({ ...valid, event_type: "request_teleported" }),
      reason: /^unknown event_type "request_teleported"$/,
    },
    {
      name: "a version from the future",
      value: json({ ...valid, schema_version: 99 }),
      reason: /schema_version 99 is newer than 4$/,
    },
    {
      name: "version 0",
      value: json({ ...valid, schema_version: 0 }),
      reason: /schema_version must be a positive integer/,
    },
    {
      name: "a missing field",
      value: json({ ...valid, cost_usd: undefined }),
      reason: /^invalid request_completed: cost_usd/,
    },
    {
      name: "oversized",
      value: json({ ...valid, padding: "x".repeat(70_000) }),
      reason: /bytes, over the 65536-byte limit$/,
    },
    {
      name: "not UTF-8",
      value: Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0x7d]),
      reason: /payload is not UTF-8; stored base64-encoded/,
    },
    // Valid for the contract, refused by the Decimal(38, 18) column.
    {
      name: "a cost too big for its column",
      value: json({
        ...valid,
        event_id: sampleRequestCompleted().event_id,
        cost_usd: "123456789012345678901234",
      }),
      reason: /^ClickHouse refused the row: .*Decimal/,
    },
  ];
}

describe("fault: malformed, oversized and wrong-version events in the stream", () => {
  it("dead-letters each with its bytes, position and reason, and lands every real event exactly once", async () => {
    const before = await sendCompletions(gateway.url, 30);

    // Produced with real requests' ids as keys: same partitions as real events.
    const kafka = kafkaFromBrokers(broker.brokers, "fault-poison-producer", { logger });
    const producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    const produced: { poison: Poison; topic: string; partition: number; offset: string }[] = [];
    try {
      for (const [index, poison] of poisons().entries()) {
        const topic = topicFor("request_completed");
        const [metadata] = await producer.send({
          topic,
          acks: -1,
          messages: [{ key: before[index]?.requestId ?? "poison", value: poison.value }],
        });
        produced.push({
          poison,
          topic,
          partition: metadata?.partition ?? -1,
          offset: metadata?.baseOffset ?? "-1",
        });
      }
    } finally {
      await producer.disconnect();
    }

    const after = await sendCompletions(gateway.url, 30, { firstIndex: 30 });
    const served = [...before, ...after];
    expectExactlyOnce(await waitForLedger(clickhouse.client, tenant, served), served);

    // A batch's dead letters are stored after its events: give them a moment.
    const readLetters = () =>
      queryRows<{
        source_topic: string;
        source_partition: number;
        source_offset: string;
        reason: string;
        payload: string;
        payload_bytes: number;
      }>(
        clickhouse.client,
        "SELECT source_topic, source_partition, toString(source_offset) AS source_offset, reason, payload, payload_bytes FROM switchboard.dead_letters",
      );
    let letters = await readLetters();
    for (let attempt = 0; letters.length < produced.length && attempt < 100; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      letters = await readLetters();
    }
    expect(letters).toHaveLength(produced.length);
    for (const { poison, topic, partition, offset } of produced) {
      const letter = letters.find(
        (row) => row.source_partition === partition && row.source_offset === offset,
      );
      expect(letter, poison.name).toBeDefined();
      expect(letter?.source_topic).toBe(topic);
      expect(letter?.reason, poison.name).toMatch(poison.reason);
      expect(letter?.payload_bytes).toBe(poison.value.length);
      const bytes = Buffer.from(letter?.payload ?? "", isUtf8(poison.value) ? "utf8" : "base64");
      expect(bytes.equals(poison.value), `${poison.name}: original bytes kept`).toBe(true);
    }

    // And on the dead-letter topic, keyed by source position.
    const onTopic = await readDeadLetterTopic(produced.length);
    expect(onTopic.map((record) => record.key).sort()).toEqual(
      produced.map(({ topic, partition, offset }) => `${topic}:${partition}:${offset}`).sort(),
    );
  }, 90_000);
});

async function readDeadLetterTopic(count: number): Promise<LogRecord[]> {
  const reader = await eventLog.createSource(`fault-poison-reader-${tenant}`, [DEAD_LETTER_TOPIC]);
  const records: LogRecord[] = [];
  const running = reader.start(async (batch) => {
    records.push(...batch);
  });
  const deadline = Date.now() + 20_000;
  while (records.length < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await reader.close();
  await running;
  return records;
}
