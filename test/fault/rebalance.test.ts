// A consumer-group rebalance: a second ingest instance joins the group
// under load, takes some partitions, then leaves and gives them back. No
// event is lost at a hand-over and none is inserted twice.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type ClickHouseClient, createClickHouse } from "../../clickhouse/client.ts";
import { type EventLog, openEventLog } from "../../eventlog/index.ts";
import type { EventSink, EventSource } from "../../eventlog/ports.ts";
import { INGEST_TOPICS, runIngest } from "../../ingest/consumer.ts";
import { EventLoader } from "../../ingest/loader.ts";
import { freshClickHouse, type TestClickHouse } from "../fixtures/clickhouse.ts";
import { newTenant, startFaultGateway, startSteadyLoad, startVendors } from "./harness.ts";
import { expectExactlyOnce, waitForLedger } from "./ledger.ts";

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
const tenant = newTenant();
const group = `fault-rebalance-${tenant}`;
let vendors: Awaited<ReturnType<typeof startVendors>>;
let clickhouse: TestClickHouse;
let outboxDirectory: string;
let eventLog: EventLog;
let gatewaySink: EventSink;
let gateway: Awaited<ReturnType<typeof startFaultGateway>>;

/** One ingest instance: its own source in the group, its own ClickHouse connection. */
interface IngestInstance {
  source: EventSource;
  running: Promise<void>;
  records: number;
  stop(): Promise<void>;
}

async function startInstance(connection: ClickHouseClient): Promise<IngestInstance> {
  const deadLetterSink = await eventLog.createSink();
  const source = await eventLog.createSource(group, INGEST_TOPICS);
  const instance: IngestInstance = {
    source,
    records: 0,
    running: Promise.resolve(),
    async stop() {
      await source.close();
      await instance.running;
      await deadLetterSink.close();
    },
  };
  instance.running = runIngest(source, new EventLoader(connection, deadLetterSink), {
    logger,
    onStored(_stored, records) {
      instance.records += records;
    },
  });
  return instance;
}

beforeAll(async () => {
  const kafkaBrokers = inject("kafkaBrokers");
  if (!kafkaBrokers) throw new Error("no Kafka broker: run without UNIT_ONLY");
  vendors = await startVendors();
  clickhouse = await freshClickHouse();
  outboxDirectory = await mkdtemp(join(tmpdir(), "switchboard-fault-outbox-"));
  eventLog = openEventLog({
    kafkaBrokers,
    localDirectory: "/nonexistent",
    outboxDirectory,
    logger,
    batching: { maxBatchWaitMilliseconds: 100 },
    // Members notice a rebalance at their next heartbeat.
    kafka: { heartbeatIntervalMilliseconds: 300, sessionTimeoutMilliseconds: 6_000 },
  });
  gatewaySink = await eventLog.createSink({ outbox: "gateway" });
  gateway = await startFaultGateway({
    tenant,
    vendors: vendors.vendors,
    sink: gatewaySink,
    logger,
  });
}, 60_000);

afterAll(async () => {
  await gateway?.app.close();
  await gatewaySink?.close();
  await clickhouse?.close();
  await vendors?.close();
  if (outboxDirectory) await rm(outboxDirectory, { recursive: true, force: true });
}, 30_000);

describe("fault: a second ingest instance joins the group and leaves", () => {
  it("hands partitions over both ways without losing or doubling an event", async () => {
    const load = startSteadyLoad(gateway.url, { clients: 3, pauseMilliseconds: 10 });
    const served = load.served;

    const first = await startInstance(clickhouse.client);
    await sleep(2_000);
    // A second connection to the same chDB directory, as a second process would have its own.
    const secondConnection = createClickHouse(clickhouse.url);
    const second = await startInstance(secondConnection);
    const deadline = Date.now() + 30_000;
    while (second.records === 0) {
      if (Date.now() > deadline) throw new Error("the second instance never got a partition");
      await sleep(100);
    }
    await sleep(2_000);
    await second.stop();
    await secondConnection.close();
    await sleep(2_000);
    await load.stop();

    try {
      const counts = await waitForLedger(clickhouse.client, tenant, served, 30_000);
      expectExactlyOnce(counts, served);
      expect(first.records).toBeGreaterThan(0);
      expect(second.records).toBeGreaterThan(0);
    } finally {
      await first.stop();
    }
  }, 90_000);
});
