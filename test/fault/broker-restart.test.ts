// The Kafka broker stopped and started again in the middle of a load. The
// gateway keeps answering (its outbox spools to disk), ingest's consumer
// rides out the outage, and every event lands exactly once.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EventLog, ensureTopics, openEventLog } from "../../eventlog/index.ts";
import type { EventSink, EventSource } from "../../eventlog/ports.ts";
import { INGEST_TOPICS, runIngest } from "../../ingest/consumer.ts";
import { EventLoader } from "../../ingest/loader.ts";
import { freshClickHouse, type TestClickHouse } from "../fixtures/clickhouse.ts";
import { type KafkaBroker, startKafkaBroker } from "../kafka/broker.ts";
import { newTenant, startFaultGateway, startSteadyLoad, startVendors } from "./harness.ts";
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
let ingestFailure: unknown;
let gateway: Awaited<ReturnType<typeof startFaultGateway>>;
const registry = new Registry();

beforeAll(async () => {
  // A broker of this file's own: stopping the shared one would break the other tests.
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
    metrics: registry,
    batching: { maxBatchWaitMilliseconds: 100 },
    kafka: { heartbeatIntervalMilliseconds: 1_000 },
    outbox: { sendTimeoutMilliseconds: 2_000, retryDelayMilliseconds: 200 },
  });
  gatewaySink = await eventLog.createSink({ outbox: "gateway" });
  gateway = await startFaultGateway({
    tenant,
    vendors: vendors.vendors,
    sink: gatewaySink,
    logger,
    metrics: registry,
  });
  deadLetterSink = await eventLog.createSink();
  source = await eventLog.createSource(`fault-broker-${tenant}`, INGEST_TOPICS);
  ingestion = runIngest(source, new EventLoader(clickhouse.client, deadLetterSink), {
    logger,
    firstRetryMilliseconds: 100,
    longestRetryMilliseconds: 1_000,
  });
  ingestion.catch((error: unknown) => {
    ingestFailure = error;
  });
}, 90_000);

afterAll(async () => {
  await gateway?.app.close();
  await gatewaySink?.close();
  await source?.close();
  await ingestion?.catch(() => {});
  await deadLetterSink?.close().catch(() => {});
  await clickhouse?.close();
  await vendors?.close();
  await broker?.destroy();
  if (outboxDirectory) await rm(outboxDirectory, { recursive: true, force: true });
}, 30_000);

describe("fault: the Kafka broker stops and restarts in the middle of a load", () => {
  it("keeps serving without waiting on Kafka, then stores every event exactly once", async () => {
    // A steady load of four clients for the whole test.
    const load = startSteadyLoad(gateway.url, { clients: 4, pauseMilliseconds: 5 });
    const served = load.served;
    await sleep(1_500);
    const beforeOutage = served.length;
    await broker.stop();
    const stoppedAt = served.length;
    await sleep(4_000);
    const duringOutage = served.slice(stoppedAt);
    await broker.start();
    await sleep(2_000);
    await load.stop();

    expect(beforeOutage).toBeGreaterThan(10);
    expect(duringOutage.length).toBeGreaterThan(20);
    // No request waited on Kafka: the slowest answer during the outage.
    expect(Math.max(...duringOutage.map((one) => one.milliseconds))).toBeLessThan(1_000);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/switchboard_outbox_spooled_events_total\{outbox="gateway"\} [1-9]/);

    const counts = await waitForLedger(clickhouse.client, tenant, served, 45_000);
    expect(ingestFailure).toBeUndefined();
    expectExactlyOnce(counts, served);
    expect(await registry.metrics()).toMatch(
      /switchboard_outbox_depth_events\{outbox="gateway"\} 0/,
    );
  }, 90_000);
});
