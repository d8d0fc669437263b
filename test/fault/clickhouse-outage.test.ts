// ClickHouse refuses inserts for a while (injected at the client boundary)
// while the gateway keeps serving: ingest holds the batch uncommitted,
// retries with backoff, stops fetching, and when inserts work again every
// event lands exactly once.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type EventLog, openEventLog } from "../../eventlog/index.ts";
import type { EventSink, EventSource } from "../../eventlog/ports.ts";
import { INGEST_TOPICS, runIngest } from "../../ingest/consumer.ts";
import { IngestMetrics } from "../../ingest/ingest-metrics.ts";
import { EventLoader } from "../../ingest/loader.ts";
import { freshClickHouse, type TestClickHouse } from "../fixtures/clickhouse.ts";
import { failingInserts } from "./failing-clickhouse.ts";
import {
  newTenant,
  type Served,
  sendCompletions,
  startFaultGateway,
  startVendors,
} from "./harness.ts";
import { expectExactlyOnce, ledgerCounts, waitForLedger } from "./ledger.ts";

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
const tenant = newTenant();
let vendors: Awaited<ReturnType<typeof startVendors>>;
let clickhouse: TestClickHouse;
let outboxDirectory: string;
let eventLog: EventLog;
let gatewaySink: EventSink;
let deadLetterSink: EventSink;
let source: EventSource;
let ingestion: Promise<void>;
let gateway: Awaited<ReturnType<typeof startFaultGateway>>;
const registry = new Registry();
const faulty = { current: undefined as ReturnType<typeof failingInserts> | undefined };

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
  });
  gatewaySink = await eventLog.createSink({ outbox: "gateway" });
  gateway = await startFaultGateway({
    tenant,
    vendors: vendors.vendors,
    sink: gatewaySink,
    logger,
  });
  faulty.current = failingInserts(clickhouse.client);
  deadLetterSink = await eventLog.createSink();
  source = await eventLog.createSource(`fault-clickhouse-${tenant}`, INGEST_TOPICS);
  const metrics = IngestMetrics.for(registry);
  ingestion = runIngest(
    source,
    new EventLoader(faulty.current.client, deadLetterSink, { metrics }),
    { logger, metrics, firstRetryMilliseconds: 100, longestRetryMilliseconds: 800 },
  );
}, 60_000);

afterAll(async () => {
  await gateway?.app.close();
  await gatewaySink?.close();
  await source?.close();
  await ingestion;
  await deadLetterSink?.close();
  await clickhouse?.close();
  await vendors?.close();
  if (outboxDirectory) await rm(outboxDirectory, { recursive: true, force: true });
});

function metricValue(text: string, name: string): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return total;
}

describe("fault: ClickHouse inserts fail for a while", () => {
  it("holds the batch, retries, loses nothing and stores every event exactly once", async () => {
    const served: Served[] = [];
    served.push(...(await sendCompletions(gateway.url, 40)));
    const before = await waitForLedger(clickhouse.client, tenant, served);
    expectExactlyOnce(before, served);

    // Eight refused inserts: with backoff from 100 ms to 800 ms, about 4 s of outage.
    faulty.current?.failNext(8);
    const duringOutage = await sendCompletions(gateway.url, 120, { firstIndex: 40 });
    served.push(...duringOutage);
    // The gateway never noticed.
    expect(Math.max(...duringOutage.map((one) => one.milliseconds))).toBeLessThan(1_000);
    const stuck = await waitFor(async () => {
      const metrics = await registry.metrics();
      return metricValue(metrics, "switchboard_ingest_retrying") === 1 ? metrics : undefined;
    }, "ingest to be retrying");
    // While it retries, nothing past what was stored is committed: the group lags.
    expect(metricValue(stuck, "switchboard_ingest_consumer_lag")).toBeGreaterThan(0);
    expect(metricValue(stuck, "switchboard_ingest_insert_errors_total")).toBeGreaterThan(0);
    expect((await ledgerCounts(clickhouse.client, tenant)).rows.request_completed).toBeLessThan(
      served.length,
    );

    const after = await waitForLedger(clickhouse.client, tenant, served);
    expectExactlyOnce(after, served);
    expect(faulty.current?.refused).toBe(8);
    const metrics = await registry.metrics();
    expect(metricValue(metrics, "switchboard_ingest_batch_retries_total")).toBeGreaterThanOrEqual(
      8,
    );
    expect(metricValue(metrics, "switchboard_ingest_retrying")).toBe(0);
  }, 60_000);
});

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
