// Ingest SIGKILLed between its insert and its offset commit, in a process of
// its own; a new ingest process resumes from the last commit, reads the
// batch again, finds its events already stored, and inserts none twice.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createClickHouse } from "../../clickhouse/client.ts";
import { type EventLog, openEventLog } from "../../eventlog/index.ts";
import type { EventSink } from "../../eventlog/ports.ts";
import { INGEST_TOPICS } from "../../ingest/consumer.ts";
import { type Child, startChild, stopChild } from "./child-process.ts";
import { newTenant, sendCompletions, startFaultGateway, startVendors } from "./harness.ts";
import { expectExactlyOnce, ledgerCounts } from "./ledger.ts";

const INGEST_SCRIPT = new URL("./ingest-process.ts", import.meta.url).pathname;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
const tenant = newTenant();
const group = `fault-killed-${tenant}`;
let kafkaBrokers: string;
let vendors: Awaited<ReturnType<typeof startVendors>>;
let outboxDirectory: string;
let chdbPath: string;
let eventLog: EventLog;
let gatewaySink: EventSink;
let gateway: Awaited<ReturnType<typeof startFaultGateway>>;
const children: Child[] = [];

beforeAll(async () => {
  kafkaBrokers = inject("kafkaBrokers");
  if (!kafkaBrokers) throw new Error("no Kafka broker: run without UNIT_ONLY");
  vendors = await startVendors();
  outboxDirectory = await mkdtemp(join(tmpdir(), "switchboard-fault-outbox-"));
  chdbPath = await mkdtemp(join(tmpdir(), "switchboard-fault-chdb-"));
  eventLog = openEventLog({
    kafkaBrokers,
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
}, 60_000);

afterAll(async () => {
  await Promise.all(children.map((child) => stopChild(child)));
  await gateway?.app.close();
  await gatewaySink?.close();
  await vendors?.close();
  for (const directory of [outboxDirectory, chdbPath]) {
    if (directory) await rm(directory, { recursive: true, force: true });
  }
}, 30_000);

function startIngest(killAfterStoring?: string): Child {
  const child = startChild(INGEST_SCRIPT, {
    FAULT_INGEST: JSON.stringify({ kafkaBrokers, chdbPath, group, killAfterStoring }),
  });
  children.push(child);
  return child;
}

/** The ingest group's lag over every event partition, as the brokers see it. */
async function groupLag(): Promise<number> {
  const probe = await eventLog.createSource(group, INGEST_TOPICS);
  try {
    return (await probe.lag()).reduce((sum, partition) => sum + partition.lag, 0);
  } finally {
    await probe.close();
  }
}

describe("fault: ingest is killed between its insert and its commit", () => {
  it("resumes in a new process and stores every event exactly once", async () => {
    const served = await sendCompletions(gateway.url, 60);
    await gatewaySink.flush();

    const killed = startIngest(tenant);
    expect(await killed.exited).toMatchObject({ signal: "SIGKILL" });
    expect(killed.output()).toMatch(/KILLING after storing \d+ records, before the commit/);
    // The batch it stored is not committed: the group still lags.
    expect(await groupLag()).toBeGreaterThan(0);

    const resumed = startIngest();
    await resumed.line("READY");
    const deadline = Date.now() + 40_000;
    while ((await groupLag()) > 0) {
      if (Date.now() > deadline) throw new Error(`ingest did not catch up:\n${resumed.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await stopChild(resumed);
    expect(await resumed.exited).toMatchObject({ code: 0 });
    // The killed batch came again, and its events were found already stored.
    const duplicates = resumed
      .output()
      .split("\n")
      .filter((line) => line.startsWith("STORED "))
      .reduce(
        (sum, line) => sum + (JSON.parse(line.slice(7)) as { duplicates: number }).duplicates,
        0,
      );
    expect(duplicates).toBeGreaterThan(0);

    // chDB allows one process per directory: read it now that ingest is gone.
    const clickhouse = createClickHouse(`chdb:${chdbPath}`);
    try {
      expectExactlyOnce(await ledgerCounts(clickhouse, tenant), served);
    } finally {
      await clickhouse.close();
    }
  }, 90_000);
});
