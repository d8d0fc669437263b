// The gateway SIGKILLed with events still in its outbox (Kafka was down),
// then started again on the same folder: the spooled events drain to Kafka
// in order before the new ones, and every event lands exactly once.
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EventLog, ensureTopics, openEventLog } from "../../eventlog/index.ts";
import type { EventSink, EventSource } from "../../eventlog/ports.ts";
import { INGEST_TOPICS, runIngest } from "../../ingest/consumer.ts";
import { EventLoader } from "../../ingest/loader.ts";
import { freshClickHouse, type TestClickHouse } from "../fixtures/clickhouse.ts";
import { type KafkaBroker, startKafkaBroker } from "../kafka/broker.ts";
import { type Child, startChild, stopChild } from "./child-process.ts";
import { newTenant, type Served, sendCompletions, startVendors } from "./harness.ts";
import { expectExactlyOnce, owedEvents, waitForLedger } from "./ledger.ts";

const GATEWAY_SCRIPT = new URL("./gateway-process.ts", import.meta.url).pathname;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
const tenant = newTenant();
let broker: KafkaBroker;
let vendors: Awaited<ReturnType<typeof startVendors>>;
let clickhouse: TestClickHouse;
let outboxDirectory: string;
const children: Child[] = [];

beforeAll(async () => {
  broker = await startKafkaBroker();
  await ensureTopics(broker.brokers, { logger });
  vendors = await startVendors();
  clickhouse = await freshClickHouse();
  outboxDirectory = await mkdtemp(join(tmpdir(), "switchboard-fault-outbox-"));
}, 90_000);

afterAll(async () => {
  await Promise.all(children.map((child) => stopChild(child)));
  await clickhouse?.close();
  await vendors?.close();
  await broker?.destroy();
  if (outboxDirectory) await rm(outboxDirectory, { recursive: true, force: true });
}, 30_000);

async function startGateway(): Promise<{ child: Child; url: string }> {
  const child = startChild(GATEWAY_SCRIPT, {
    FAULT_GATEWAY: JSON.stringify({
      kafkaBrokers: broker.brokers,
      outboxDirectory,
      tenant,
      vendors: vendors.vendors,
    }),
  });
  children.push(child);
  const url = (await child.line("LISTENING ")).slice("LISTENING ".length).trim();
  return { child, url };
}

async function outboxGauge(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^${name}\\{outbox="gateway"\\} (\\d+)$`, "m").exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

describe("fault: the gateway is killed with events in its outbox, then restarted", () => {
  it("drains what the killed gateway spooled, and every event lands exactly once", async () => {
    await broker.stop();
    const first = await startGateway();
    // Kafka is down from the start: everything goes to the spool.
    const beforeKill = await sendCompletions(first.url, 80);
    expect(Math.max(...beforeKill.map((one) => one.milliseconds))).toBeLessThan(2_000);
    const owed = owedEvents(beforeKill);
    const owedCount = owed.route_decided + owed.request_completed + owed.attempt_failed;
    // Wait until every event is on disk (none left in memory), then kill.
    const deadline = Date.now() + 20_000;
    while ((await outboxGauge(first.url, "switchboard_outbox_depth_events")) < owedCount) {
      if (Date.now() > deadline) throw new Error("the outbox never held every event");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await outboxGauge(first.url, "switchboard_outbox_memory_events")).toBe(0);
    first.child.process.kill("SIGKILL");
    expect(await first.child.exited).toMatchObject({ signal: "SIGKILL" });
    const spooledTopics = readdirSync(join(outboxDirectory, "gateway")).filter(
      (name) => !name.startsWith("."),
    );
    expect(spooledTopics.length).toBeGreaterThan(0);

    await broker.start();
    const second = await startGateway();
    // The restarted gateway drains the old spool; new requests queue behind it.
    const afterRestart = await sendCompletions(second.url, 40, { firstIndex: 80 });

    const eventLog: EventLog = openEventLog({
      kafkaBrokers: broker.brokers,
      localDirectory: "/nonexistent",
      logger,
      batching: { maxBatchWaitMilliseconds: 100 },
    });
    const deadLetterSink: EventSink = await eventLog.createSink();
    const source: EventSource = await eventLog.createSource(
      `fault-gateway-${tenant}`,
      INGEST_TOPICS,
    );
    const ingestion = runIngest(source, new EventLoader(clickhouse.client, deadLetterSink), logger);
    try {
      const served: Served[] = [...beforeKill, ...afterRestart];
      const counts = await waitForLedger(clickhouse.client, tenant, served, 30_000);
      expectExactlyOnce(counts, served);
      expect(await outboxGauge(second.url, "switchboard_outbox_depth_events")).toBe(0);
      expect(await outboxGauge(second.url, "switchboard_outbox_spooling")).toBe(0);
    } finally {
      await source.close();
      await ingestion;
      await deadLetterSink.close();
    }
  }, 90_000);
});
