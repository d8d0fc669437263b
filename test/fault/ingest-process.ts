// Ingest in a process of its own, on a chDB directory of its own, so a fault
// test can SIGKILL it. With KILL_AFTER_STORING set, it kills itself
// (SIGKILL) right after storing a batch that holds that tenant's events and
// before the source commits it: the worst moment, insert done, commit not.
// Run: node --import tsx test/fault/ingest-process.ts, settings as JSON in
// FAULT_INGEST. Prints "READY", one "STORED {…}" line per batch, and on
// SIGTERM closes cleanly.
import { pino } from "pino";
import { createClickHouse } from "../../clickhouse/client.ts";
import { migrate } from "../../clickhouse/migrate.ts";
import { openEventLog } from "../../eventlog/index.ts";
import type { BatchHandler, EventSource } from "../../eventlog/ports.ts";
import { INGEST_TOPICS, runIngest } from "../../ingest/consumer.ts";
import { EventLoader } from "../../ingest/loader.ts";

interface Settings {
  kafkaBrokers: string;
  chdbPath: string;
  group: string;
  killAfterStoring?: string;
}

/** The source, with a SIGKILL between "handler resolved" (stored) and the commit that follows. */
function killingBeforeCommit(source: EventSource, tenant: string): EventSource {
  const marker = Buffer.from(`"tenant_id":"${tenant}"`);
  return {
    start(handler: BatchHandler) {
      return source.start(async (records, context) => {
        await handler(records, context);
        if (records.some((record) => record.value.includes(marker))) {
          console.log(`KILLING after storing ${records.length} records, before the commit`);
          process.kill(process.pid, "SIGKILL");
          await new Promise(() => {}); // never returns: no commit
        }
      });
    },
    close: () => source.close(),
    lag: () => source.lag(),
  };
}

const settings = JSON.parse(process.env.FAULT_INGEST ?? "{}") as Settings;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "warn" });
const clickhouse = createClickHouse(`chdb:${settings.chdbPath}`);
await migrate(clickhouse);
const eventLog = openEventLog({
  kafkaBrokers: settings.kafkaBrokers,
  localDirectory: "/nonexistent",
  logger,
  batching: { maxBatchWaitMilliseconds: 100 },
  // The broker's smallest session: a killed member's partitions move after 6 s, not 30.
  kafka: { sessionTimeoutMilliseconds: 6_000, heartbeatIntervalMilliseconds: 1_000 },
});
const deadLetterSink = await eventLog.createSink();
const source = await eventLog.createSource(settings.group, INGEST_TOPICS);
const ingestion = runIngest(
  settings.killAfterStoring ? killingBeforeCommit(source, settings.killAfterStoring) : source,
  new EventLoader(clickhouse, deadLetterSink),
  {
    logger,
    onStored(stored, records) {
      console.log(`STORED ${JSON.stringify({ records, duplicates: stored.duplicates })}`);
    },
  },
);
console.log("READY");
process.once("SIGTERM", () => {
  void (async () => {
    await source.close();
    await ingestion;
    await deadLetterSink.close();
    await clickhouse.close();
    process.exit(0);
  })();
});
