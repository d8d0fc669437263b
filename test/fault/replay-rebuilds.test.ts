// ClickHouse lost its data: `switchboard replay` (the real CLI, in its own
// process) rebuilds the event tables from the Kafka topics. Running it again
// changes nothing; `--from` reads only from that time on.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClickHouse } from "../../clickhouse/client.ts";
import {
  type EventLog,
  ensureTopics,
  kafkaFromBrokers,
  openEventLog,
} from "../../eventlog/index.ts";
import type { EventSink } from "../../eventlog/ports.ts";
import { topicFor } from "../../events/topics.ts";
import { queryRows } from "../fixtures/clickhouse.ts";
import { type KafkaBroker, startKafkaBroker } from "../kafka/broker.ts";
import { startChild } from "./child-process.ts";
import { newTenant, sendCompletions, startFaultGateway, startVendors } from "./harness.ts";
import { expectExactlyOnce, ledgerCounts, owedEvents } from "./ledger.ts";

const CLI = new URL("../../bin/switchboard.js", import.meta.url).pathname;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
const tenant = newTenant();
let broker: KafkaBroker;
let vendors: Awaited<ReturnType<typeof startVendors>>;
let dataDirectory: string;
let outboxDirectory: string;
let eventLog: EventLog;
let gatewaySink: EventSink;
let gateway: Awaited<ReturnType<typeof startFaultGateway>>;

beforeAll(async () => {
  // Its own broker, so "a second run changes nothing" is not muddied by other tests' events.
  broker = await startKafkaBroker();
  await ensureTopics(broker.brokers, { logger });
  vendors = await startVendors();
  dataDirectory = await mkdtemp(join(tmpdir(), "switchboard-replay-data-"));
  outboxDirectory = await mkdtemp(join(tmpdir(), "switchboard-fault-outbox-"));
  eventLog = openEventLog({
    kafkaBrokers: broker.brokers,
    localDirectory: "/nonexistent",
    outboxDirectory,
    logger,
  });
  gatewaySink = await eventLog.createSink({ outbox: "gateway" });
  gateway = await startFaultGateway({
    tenant,
    vendors: vendors.vendors,
    sink: gatewaySink,
    logger,
  });
}, 90_000);

afterAll(async () => {
  await gateway?.app.close();
  await gatewaySink?.close();
  await vendors?.close();
  await broker?.destroy();
  for (const directory of [dataDirectory, outboxDirectory]) {
    if (directory) await rm(directory, { recursive: true, force: true });
  }
}, 30_000);

interface Summary {
  records: number;
  inserted: number;
  duplicates: number;
  deadLetters: number;
}

/** `switchboard replay [arguments]` on this test's data folder and broker; its printed summary. */
async function replay(...replayArguments: string[]): Promise<Summary> {
  const child = startChild(
    CLI,
    {
      SWITCHBOARD_DATA_DIR: dataDirectory,
      KAFKA_BROKERS: broker.brokers,
      CLICKHOUSE_URL: "",
      LOG_LEVEL: "warn",
    },
    replayArguments,
  );
  const exit = await child.exited;
  expect(exit, child.output()).toEqual({ code: 0, signal: null });
  const line = child
    .output()
    .split("\n")
    .find((text) => text.startsWith('{"records"'));
  if (line === undefined) throw new Error(`no summary printed:\n${child.output()}`);
  return JSON.parse(line) as Summary;
}

function total(owed: ReturnType<typeof owedEvents>): number {
  return owed.route_decided + owed.request_completed + owed.attempt_failed;
}

describe("switchboard replay rebuilds ClickHouse from the Kafka topics", () => {
  it("rebuilds every event once, changes nothing when run again, and honours --from", async () => {
    const first = await sendCompletions(gateway.url, 50);
    gatewaySink.append(topicFor("request_completed"), "poison", '{"event_type":');
    await gatewaySink.flush();

    const rebuilt = await replay("replay");
    expect(rebuilt).toEqual({
      records: total(owedEvents(first)) + 1,
      inserted: total(owedEvents(first)),
      duplicates: 0,
      deadLetters: 1,
    });
    const again = await replay("replay");
    expect(again).toEqual({
      records: total(owedEvents(first)) + 1,
      inserted: 0,
      duplicates: total(owedEvents(first)),
      deadLetters: 1,
    });

    const from = new Date();
    await sleep(50);
    const later = await sendCompletions(gateway.url, 20, { firstIndex: 50 });
    await gatewaySink.flush();
    const fromTime = await replay("replay", "--from", from.toISOString());
    expect(fromTime).toEqual({
      records: total(owedEvents(later)),
      inserted: total(owedEvents(later)),
      duplicates: 0,
      deadLetters: 0,
    });

    const clickhouse = createClickHouse(`chdb:${join(dataDirectory, "clickhouse")}`);
    try {
      expectExactlyOnce(await ledgerCounts(clickhouse, tenant), [...first, ...later]);
      const [letters] = await queryRows<{ rows: string }>(
        clickhouse,
        "SELECT count() AS rows FROM switchboard.dead_letters",
      );
      expect(letters).toEqual({ rows: "1" });
    } finally {
      await clickhouse.close();
    }
    // Every replay removed its consumer group.
    const admin = kafkaFromBrokers(broker.brokers, "replay-check", { logger }).admin();
    await admin.connect();
    try {
      const { groups } = await admin.listGroups();
      expect(groups.filter((group) => group.groupId.startsWith("switchboard-replay-"))).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  }, 120_000);
});
