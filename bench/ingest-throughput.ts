// Sustained events/s from Kafka into ClickHouse (chDB) on this machine.
//
//   node --import tsx bench/ingest-throughput.ts [events, default 300000] [max events per batch, default 20000]
//
// Starts a Kafka broker of its own (or uses KAFKA_BROKERS, whose Switchboard
// topics must be empty), produces `events` realistic events (per request: a
// route decision, a completion, and a failed attempt one time in ten, over
// five tenants), then times four things in one run, so they compare as ratios:
//
//  1. produce: our KafkaBatchSender (idempotent, acks=all) sending them.
//  2. consume only: a KafkaSource with a handler that does nothing, the
//     ceiling kafkajs sets.
//  3. store only: EventLoader.store on batches already in memory, the ceiling
//     decode + lookup + insert set.
//  4. end to end: runIngest (KafkaSource → EventLoader → chDB, commits)
//     catching up from offset 0 to the end.
//  5. Node side only: the same as 4 with ClickHouse replaced by a client
//     that serialises the rows (as @clickhouse/client does) and answers at
//     once: what one ingest process could feed a ClickHouse server that has
//     cores of its own.
//
// Add `--cpu-prof --cpu-prof-dir=<dir>` to node to profile the whole run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { type ClickHouseClient, createClickHouse } from "../clickhouse/client.ts";
import { migrate } from "../clickhouse/migrate.ts";
import {
  ensureTopics,
  KafkaBatchSender,
  KafkaSource,
  kafkaFromBrokers,
} from "../eventlog/index.ts";
import type { LogRecord } from "../eventlog/ports.ts";
import type { PendingRecord } from "../eventlog/record-batcher.ts";
import { eventTime, newEventId } from "../events/ids.ts";
import type { SwitchboardEvent } from "../events/schemas.ts";
import { topicFor } from "../events/topics.ts";
import { INGEST_TOPICS, runIngest } from "../ingest/consumer.ts";
import { EventLoader } from "../ingest/loader.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { sampleAttemptFailed, sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { startKafkaBroker } from "../test/kafka/broker.ts";

const eventCount = Number(process.argv[2] ?? 300_000);
const maxBatchEvents = Number(process.argv[3] ?? 20_000);
const logger = pino({ level: process.env.LOG_LEVEL ?? "warn" });

/** The events of `requests` requests, as the gateway publishes them. */
function* requestEvents(): Generator<SwitchboardEvent> {
  const start = Date.now() - 3_600_000;
  for (let index = 0; ; index += 1) {
    const requestId = `req_${newEventId().replaceAll("-", "")}`;
    const tenant = `tenant-${index % 5}`;
    const occurredAt = eventTime(new Date(start + index * 10));
    yield {
      event_id: newEventId(),
      event_type: "route_decided",
      schema_version: 2,
      occurred_at: occurredAt,
      tenant_id: tenant,
      request_id: requestId,
      task: "extraction",
      task_source: "header",
      request_model: "fast",
      policy: "fallback",
      score_basis: null,
      candidates: [
        { vendor: "alpha", model: "sim-small", rank: 1, score: null, skipped_reason: null },
        { vendor: "beta", model: "sim-small", rank: 2, score: null, skipped_reason: null },
      ],
      chosen_vendor: "alpha",
      chosen_model: "sim-small",
      reason: "first of the route's ordered fallback list; later ones on retryable failure",
    } as SwitchboardEvent;
    if (index % 10 === 0) {
      yield sampleAttemptFailed({
        tenant_id: tenant,
        request_id: requestId,
        occurred_at: occurredAt,
      });
    }
    yield sampleRequestCompleted({
      tenant_id: tenant,
      request_id: requestId,
      occurred_at: occurredAt,
      input_tokens: 100 + (index % 900),
      output_tokens: 20 + (index % 300),
      cost_usd: `0.000${100 + (index % 900)}`,
    });
  }
}

function generate(count: number): PendingRecord[] {
  const records: PendingRecord[] = [];
  for (const event of requestEvents()) {
    if (records.length === count) break;
    records.push({
      topic: topicFor(event.event_type),
      key: event.request_id,
      value: JSON.stringify(event),
    });
  }
  return records;
}

function rate(count: number, milliseconds: number): string {
  return `${Math.round((count * 1000) / milliseconds).toLocaleString("en-US")} events/s`;
}

const configuredBrokers = process.env.KAFKA_BROKERS;
const broker = configuredBrokers ? undefined : await startKafkaBroker();
const brokers = configuredBrokers ?? (broker?.brokers as string);
const chdbDirectory = mkdtempSync(join(tmpdir(), "switchboard-bench-chdb-"));
try {
  await ensureTopics(brokers, { logger });
  const kafka = kafkaFromBrokers(brokers, "switchboard-bench", { logger });
  const records = generate(eventCount);
  const bytes = records.reduce((sum, record) => sum + record.value.length, 0);
  console.log(
    `${eventCount.toLocaleString("en-US")} events, ${(bytes / eventCount).toFixed(0)} bytes each on average, max ${maxBatchEvents} per batch`,
  );

  // 1. produce
  const sender = new KafkaBatchSender(kafka, { logger });
  const produceStarted = performance.now();
  for (let start = 0, bytesInBatch = 0, end = 0; start < records.length; start = end) {
    // 900 KiB per request, as the sinks send.
    for (
      bytesInBatch = 0, end = start;
      end < records.length && bytesInBatch < 900 * 1024;
      end += 1
    ) {
      bytesInBatch += (records[end] as PendingRecord).value.length;
    }
    await sender.write(records.slice(start, end));
  }
  const produceMilliseconds = performance.now() - produceStarted;
  await sender.close();
  console.log(`produce (KafkaBatchSender, acks=all): ${rate(eventCount, produceMilliseconds)}`);

  const sourceOptions = {
    topics: INGEST_TOPICS,
    maxBatchRecords: maxBatchEvents,
    maxBatchWaitMilliseconds: 100,
    logger,
  };

  // 2. consume only
  const fetched: LogRecord[] = [];
  const consumeSource = new KafkaSource(kafka, {
    ...sourceOptions,
    group: `bench-consume-${Date.now()}`,
  });
  let consumeStarted = 0;
  const consumed = new Promise<void>((resolve) => {
    void consumeSource.start(async (batch) => {
      if (consumeStarted === 0) consumeStarted = performance.now();
      for (const record of batch) fetched.push(record);
      if (fetched.length >= eventCount) resolve();
    });
  });
  const consumeGroupStarted = performance.now();
  await consumed;
  const consumeMilliseconds = performance.now() - consumeStarted;
  await consumeSource.close();
  console.log(
    `consume only (KafkaSource, no-op handler): ${rate(eventCount, consumeMilliseconds)} (group join ${Math.round(consumeStarted - consumeGroupStarted)} ms not counted)`,
  );

  // 3. store only
  const clickhouse = createClickHouse(`chdb:${chdbDirectory}`);
  await migrate(clickhouse);
  const storeLoader = new EventLoader(clickhouse, new RecordingSink());
  const storeStarted = performance.now();
  for (let start = 0; start < fetched.length; start += maxBatchEvents) {
    await storeLoader.store(fetched.slice(start, start + maxBatchEvents));
  }
  const storeMilliseconds = performance.now() - storeStarted;
  console.log(
    `store only (EventLoader.store, in-memory batches): ${rate(eventCount, storeMilliseconds)}`,
  );
  for (const table of ["route_decided", "attempt_failed", "request_completed"]) {
    await clickhouse.command({ query: `TRUNCATE TABLE switchboard.${table}` });
  }

  // 4. end to end
  const ingestSource = new KafkaSource(kafka, {
    ...sourceOptions,
    group: `bench-ingest-${Date.now()}`,
  });
  let stored = 0;
  let batches = 0;
  let storeSeconds = 0;
  let ingestStarted = 0;
  let caughtUp: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    caughtUp = resolve;
  });
  const loader = new EventLoader(clickhouse, new RecordingSink());
  const timedLoader = {
    store: async (batch: LogRecord[]) => {
      if (ingestStarted === 0) ingestStarted = performance.now();
      const startedAt = performance.now();
      const result = await loader.store(batch);
      storeSeconds += (performance.now() - startedAt) / 1000;
      return result;
    },
  } as EventLoader;
  const ingestion = runIngest(ingestSource, timedLoader, {
    logger,
    onStored(_result, count) {
      stored += count;
      batches += 1;
      if (stored >= eventCount) caughtUp();
    },
  });
  await done;
  const ingestMilliseconds = performance.now() - ingestStarted;
  await ingestSource.close();
  await ingestion;
  const [row] = await (
    await clickhouse.query({
      query:
        "SELECT (SELECT count() FROM switchboard.route_decided) + (SELECT count() FROM switchboard.attempt_failed) + (SELECT count() FROM switchboard.request_completed) AS rows",
      format: "JSONEachRow",
    })
  ).json<{ rows: string }>();
  await clickhouse.close();
  console.log(
    `end to end (runIngest: Kafka → chDB, committed): ${rate(eventCount, ingestMilliseconds)}; ${batches} batches of ${Math.round(stored / batches)} on average; ${Math.round((storeSeconds * 100_000) / ingestMilliseconds)}% of the time in EventLoader.store; ${row?.rows} rows`,
  );

  // 5. Node side only
  const instantClickHouse = {
    query: async () => ({ json: async () => [] }),
    insert: async ({ values }: { values: unknown[] }) => {
      for (const value of values) JSON.stringify(value);
      return {};
    },
  } as unknown as ClickHouseClient;
  const nodeSource = new KafkaSource(kafka, {
    ...sourceOptions,
    group: `bench-node-${Date.now()}`,
  });
  let nodeStored = 0;
  let nodeStarted = 0;
  let nodeCaughtUp: () => void = () => {};
  const nodeDone = new Promise<void>((resolve) => {
    nodeCaughtUp = resolve;
  });
  const instantLoader = new EventLoader(instantClickHouse, new RecordingSink());
  const nodeIngestion = runIngest(
    nodeSource,
    {
      store: (batch: LogRecord[]) => {
        if (nodeStarted === 0) nodeStarted = performance.now();
        return instantLoader.store(batch);
      },
    } as EventLoader,
    {
      logger,
      onStored(_result, count) {
        nodeStored += count;
        if (nodeStored >= eventCount) nodeCaughtUp();
      },
    },
  );
  await nodeDone;
  const nodeMilliseconds = performance.now() - nodeStarted;
  await nodeSource.close();
  await nodeIngestion;
  console.log(
    `Node side only (runIngest, ClickHouse answering at once): ${rate(eventCount, nodeMilliseconds)}`,
  );
} finally {
  await broker?.destroy();
  rmSync(chdbDirectory, { recursive: true, force: true });
}
